//! Voice (issue 16) on every backend: `POST /api/transcribe` (types from
//! the bytes, limits, the user's key, model and language reaching Mistral
//! exactly), `POST /api/tts` through Mistral (audio streamed as it is made,
//! every format, the saved voice) or through the operator's TTS provider
//! when `TTS_API_BASE` is set, `{"validate": true}` both ways, `GET
//! /api/voices`, the voice preferences of the settings, upstream failures
//! mapped like chat's, and that one user's key never serves another. The
//! fake Mistral (and its fake TTS provider) records what it received.
use crate::support::*;
use app::model::SettingsDto;
use app::server::config::{Secret, MB};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::mistral::audio::{speech_audio, with_said, DEFAULT_TRANSCRIPT, VOICES};
use testkit::mistral::FakeFailure;

const KEY_A: &str = "sk-voice-user-a-0001";
const KEY_B: &str = "sk-voice-user-b-0002";
const OPERATOR_TTS_KEY: &str = "tts-operator-key-42";

/// A new user with `key` stored (saved without asking Mistral, so the fake
/// sees only what the voice routes send).
async fn user_with(app: &TestApp, email: &str, key: &str) -> String {
    let t = app.register(email).await;
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/settings/key",
            Some(json!({"apiKey": key, "force": true})),
            Auth::Bearer(&t),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    t
}

fn ogg(tail: &[u8]) -> Vec<u8> {
    let mut b = b"OggS\0\x02\0\0\0\0\0\0\0\0fake-opus-page".to_vec();
    b.extend_from_slice(tail);
    b
}

fn webm() -> Vec<u8> {
    let mut b = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01];
    b.extend_from_slice(b"\x42\x82\x84webm\x42\x87\x81\x04 rest of the recording");
    b
}

fn m4a() -> Vec<u8> {
    b"\0\0\0\x20ftypM4A \0\0\0\0M4A isommp42\0\0\0\x08free".to_vec()
}

async fn into_resp(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// `POST /api/transcribe` with a `file` part (claimed to be text: the
/// server must not believe it) and an optional `language` part.
async fn transcribe(app: &TestApp, auth: Auth<'_>, audio: Vec<u8>, language: Option<&str>) -> Resp {
    let part = reqwest::multipart::Part::bytes(audio)
        .file_name("recording.bin")
        .mime_str("text/plain")
        .unwrap();
    let mut form = reqwest::multipart::Form::new().part("file", part);
    if let Some(l) = language {
        form = form.text("language", l.to_string());
    }
    let mut req = app.http.post(app.url("/api/transcribe")).multipart(form);
    req = match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Cookie(t) => req.header("cookie", format!("access_token={t}")),
    };
    into_resp(req.send().await.expect("transcribe")).await
}

async fn tts_raw(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/tts"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("tts")
}

async fn tts(app: &TestApp, token: &str, body: Value) -> Resp {
    into_resp(tts_raw(app, token, body).await).await
}

/// The body as it arrived: when each read returned, and the bytes.
async fn read_timed(mut resp: reqwest::Response) -> (Vec<Instant>, Vec<u8>) {
    let (mut at, mut bytes) = (vec![], vec![]);
    while let Some(chunk) = resp.chunk().await.expect("the audio arrives whole") {
        at.push(Instant::now());
        bytes.extend_from_slice(&chunk);
    }
    (at, bytes)
}

fn requests_to(app: &TestApp, path: &str) -> Vec<testkit::RecordedRequest> {
    app.mistral
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

/// The sentence (and status) chat answers a user without a key.
async fn chat_no_key_refusal(app: &TestApp, token: &str) -> (u16, String) {
    let sent = app.send(token, "Hello").await;
    assert!(sent.status >= 400, "{:?}", sent.body);
    (sent.status, sent.error().to_string())
}

db_test!(voice_routes_require_a_session, |app| {
    let r = transcribe(&app, Auth::None, ogg(b""), None).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = transcribe(&app, Auth::Bearer("not-a-token"), ogg(b""), None).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    for body in [json!({"text": "Hello"}), json!({"validate": true})] {
        let r = app.post("/api/tts", body.clone(), Auth::None).await;
        assert_eq!(r.status, 401, "{body}: {:?}", r.body);
        let r = app
            .post("/api/tts", body.clone(), Auth::Bearer("not-a-token"))
            .await;
        assert_eq!(r.status, 401, "{body}: {:?}", r.body);
    }
    let r = app.get("/api/voices", Auth::None).await;
    assert_eq!(r.status, 401);
    let r = app.rpc("/rpc/voices", Auth::Bearer("not-a-token")).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    // A visitor (guests allowed) is shown no voices, and nothing is asked.
    let r = app.rpc("/rpc/voices", Auth::None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"voices": []})));
    assert!(app.mistral.requests().is_empty(), "nothing went upstream");
});

db_test_with!(
    transcribes_with_the_users_key_model_and_language,
    |c| {
        c.transcribe_model = "voxtral-small-latest".into();
    },
    |app| {
        let t = user_with(&app, "stt@example.com", KEY_A).await;
        let audio = with_said(ogg(b"\x01\x02\x03"), "Bonjour tout le monde");
        let r = transcribe(&app, Auth::Bearer(&t), audio.clone(), Some("FR")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!({"text": "Bonjour tout le monde", "language": "fr"})
        );
        let got = app.mistral.transcriptions();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, audio, "the exact bytes");
        assert_eq!(got[0].model.as_deref(), Some("voxtral-small-latest"));
        assert_eq!(got[0].language.as_deref(), Some("fr"));
        assert_eq!(got[0].api_key.as_deref(), Some(KEY_A));
        // The type Mistral is told is the sniffed one, never the claim.
        assert_eq!(got[0].content_type.as_deref(), Some("audio/ogg"));
        assert_eq!(got[0].file_name.as_deref(), Some("audio.ogg"));
        assert!(got[0].other_parts.is_empty(), "{:?}", got[0].other_parts);

        // Without a language: none is sent, Mistral's answer stands.
        let r = transcribe(&app, Auth::Bearer(&t), ogg(b"hello"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["text"], DEFAULT_TRANSCRIPT);
        assert_eq!(r.body["language"], Value::Null);
        assert_eq!(app.mistral.transcriptions()[1].language, None);

        // The saved voice language fills in; a given one wins.
        let s = app
            .request(
                reqwest::Method::PUT,
                "/api/settings",
                Some(json!({"voiceLanguage": "de"})),
                Auth::Bearer(&t),
                &[],
            )
            .await;
        assert_eq!(s.status, 200, "{:?}", s.body);
        let r = transcribe(&app, Auth::Bearer(&t), ogg(b"x"), None).await;
        assert_eq!(r.body["language"], "de", "{:?}", r.body);
        let r = transcribe(&app, Auth::Bearer(&t), ogg(b"x"), Some("en")).await;
        assert_eq!(r.body["language"], "en", "{:?}", r.body);
        let sent: Vec<Option<String>> = app
            .mistral
            .transcriptions()
            .into_iter()
            .map(|a| a.language)
            .collect();
        assert_eq!(sent[2..], [Some("de".to_string()), Some("en".to_string())]);
    }
);

db_test!(recordings_are_typed_by_their_bytes, |app| {
    let t = user_with(&app, "types@example.com", KEY_A).await;
    let cases: [(Vec<u8>, &str, &str); 6] = [
        (webm(), "audio/webm", "audio.webm"),
        (ogg(b""), "audio/ogg", "audio.ogg"),
        (speech_audio("Hi", "opus"), "audio/ogg", "audio.ogg"),
        (speech_audio("Hi", "wav"), "audio/wav", "audio.wav"),
        (speech_audio("Hi", "mp3"), "audio/mpeg", "audio.mp3"),
        (m4a(), "audio/mp4", "audio.m4a"),
    ];
    for (i, (bytes, mime, name)) in cases.into_iter().enumerate() {
        let r = transcribe(&app, Auth::Bearer(&t), bytes.clone(), None).await;
        assert_eq!(r.status, 200, "{mime}: {:?}", r.body);
        let got = &app.mistral.transcriptions()[i];
        assert_eq!(got.content_type.as_deref(), Some(mime));
        assert_eq!(got.file_name.as_deref(), Some(name));
        assert_eq!(got.bytes, bytes);
    }
    let sent = app.mistral.transcriptions().len();

    // A PNG, a PDF, text: 415 listing what is accepted.
    for other in [
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        b"%PDF-1.7\n".to_vec(),
        b"SAY:hello\n".to_vec(),
    ] {
        let r = transcribe(&app, Auth::Bearer(&t), other, None).await;
        assert_eq!(r.status, 415, "{:?}", r.body);
        for name in ["WebM", "Ogg", "WAV", "MP3", "M4A"] {
            assert!(r.error().contains(name), "{}", r.error());
        }
    }
    // Empty, no file part, a bad language: 400 with a sentence.
    let r = transcribe(&app, Auth::Bearer(&t), vec![], None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("empty"), "{}", r.error());
    let form = reqwest::multipart::Form::new().text("language", "en");
    let r = into_resp(
        app.http
            .post(app.url("/api/transcribe"))
            .bearer_auth(&t)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("file"), "{}", r.error());
    for bad in ["fra", "e", "12", "x".repeat(100).as_str()] {
        let r = transcribe(&app, Auth::Bearer(&t), ogg(b""), Some(bad)).await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert!(r.error().starts_with("language:"), "{}", r.error());
    }
    // JSON instead of a form.
    let r = app
        .post("/api/transcribe", json!({}), Auth::Bearer(&t))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["error"].is_string());
    assert_eq!(
        app.mistral.transcriptions().len(),
        sent,
        "none of them went upstream"
    );
});

db_test_with!(
    recordings_over_the_limit_are_413_naming_it,
    |c| {
        c.max_audio_bytes = MB;
    },
    |app| {
        let t = user_with(&app, "big@example.com", KEY_A).await;
        let mut big = ogg(b"");
        big.resize(MB as usize + 1, b'a');
        let r = transcribe(&app, Auth::Bearer(&t), big, None).await;
        assert_eq!(r.status, 413, "{:?}", r.body);
        assert!(r.error().contains("1 MB"), "{}", r.error());
        assert!(app.mistral.transcriptions().is_empty());
        // Exactly the limit is fine.
        let mut full = ogg(b"");
        full.resize(MB as usize, b'a');
        let r = transcribe(&app, Auth::Bearer(&t), full.clone(), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(app.mistral.transcriptions()[0].bytes.len(), full.len());
    }
);

db_test!(without_a_key_voice_says_what_chat_says, |app| {
    let t = app.register("nokey@example.com").await;
    let (status, sentence) = chat_no_key_refusal(&app, &t).await;
    assert_eq!(status, 400);
    assert!(sentence.contains("Mistral API key"), "{sentence}");
    let r = transcribe(&app, Auth::Bearer(&t), ogg(b""), None).await;
    assert_eq!((r.status, r.error()), (status, sentence.as_str()));
    let r = tts(&app, &t, json!({"text": "Hello"})).await;
    assert_eq!((r.status, r.error()), (status, sentence.as_str()));
    let r = app.get("/api/voices", Auth::Bearer(&t)).await;
    assert_eq!((r.status, r.error()), (status, sentence.as_str()));
    // Asking whether the key is good is not an error: there is none.
    let r = tts(&app, &t, json!({"validate": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"ok": false, "provider": "mistral"}));
    assert!(
        app.mistral.requests().is_empty(),
        "{:?}",
        app.mistral.requests()
    );
});

db_test!(upstream_failures_map_like_chat, |app| {
    let t = user_with(&app, "fail@example.com", KEY_A).await;
    let refused = "Your Mistral API key was refused — update it in Settings → Models";
    let unavailable = "Mistral is unavailable right now — please try again in a moment";

    let r = transcribe(&app, Auth::Bearer(&t), ogg(b"[[fake:status=401]]"), None).await;
    assert_eq!((r.status, r.error()), (502, refused), "{:?}", r.body);
    let r = transcribe(&app, Auth::Bearer(&t), ogg(b"[[fake:status=403]]"), None).await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert!(
        r.error().starts_with("Mistral rejected the request: ") && r.error().contains("moderation"),
        "{}",
        r.error()
    );
    let r = transcribe(&app, Auth::Bearer(&t), ogg(b"[[fake:status=429]]"), None).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(r.error(), "Mistral is rate-limiting this key, retry in 7 s");
    let before = app.mistral.transcriptions().len();
    let r = transcribe(&app, Auth::Bearer(&t), ogg(b"[[fake:status=500]]"), None).await;
    assert_eq!((r.status, r.error()), (502, unavailable), "{:?}", r.body);
    assert_eq!(
        app.mistral.transcriptions().len() - before,
        3,
        "5xx is retried, then reported"
    );

    // Speech: the same, except that 403 is the moderation refusing the text.
    let r = tts(&app, &t, json!({"text": "[[fake:status=401]]"})).await;
    assert_eq!((r.status, r.error()), (502, refused), "{:?}", r.body);
    let r = tts(&app, &t, json!({"text": "Something [[fake:status=403]]"})).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.error()
            .starts_with("Mistral declined to read this text aloud (moderation)"),
        "{}",
        r.error()
    );
    let r = tts(&app, &t, json!({"text": "[[fake:status=429]]"})).await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.headers["retry-after"], "7");
    let r = tts(&app, &t, json!({"text": "[[fake:status=500]]"})).await;
    assert_eq!((r.status, r.error()), (502, unavailable), "{:?}", r.body);
    // Voices and validation too.
    app.mistral.fail_times(FakeFailure::Unauthorized, 1);
    let r = app.get("/api/voices", Auth::Bearer(&t)).await;
    assert_eq!((r.status, r.error()), (502, refused), "{:?}", r.body);
    app.mistral.fail(FakeFailure::ServerError);
    let r = tts(&app, &t, json!({"validate": true})).await;
    assert_eq!((r.status, r.error()), (502, unavailable), "{:?}", r.body);
    app.mistral.clear_failure();

    // Audio that breaks off after it started ends the response with an
    // error, never as if it were complete.
    let resp = tts_raw(&app, &t, json!({"text": "Then it breaks [[fake:tts-die]]"})).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.is_err(),
        "a broken stream must not end cleanly"
    );
});

db_test!(speech_streams_from_mistral_as_it_is_made, |app| {
    let t = user_with(&app, "tts@example.com", KEY_A).await;
    // 18 characters: ~21 fragments, 80 ms apart at the fake.
    let text = "[[fake:tts-ms=80]]";
    let started = Instant::now();
    let resp = tts_raw(&app, &t, json!({"text": text, "format": "pcm"})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/pcm");
    assert_eq!(resp.headers()["x-sample-rate"], "24000");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (at, bytes) = read_timed(resp).await;
    assert_eq!(bytes, speech_audio(text, "pcm"), "the decoded bytes");
    assert!(at.len() > 5, "arrived in {} piece(s)", at.len());
    let (first, last) = (at[0], at[at.len() - 1]);
    assert!(
        last - first >= Duration::from_millis(80 * 10),
        "pieces spread over {:?}: buffered, not streamed",
        last - first
    );
    assert!(
        first - started < last - started - Duration::from_millis(500),
        "the first piece came at {:?}, the last at {:?}",
        first - started,
        last - started
    );
    // What Mistral was asked: the spec's fields, the configured model.
    let asked = requests_to(&app, "/v1/audio/speech");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].api_key.as_deref(), Some(KEY_A));
    assert_eq!(asked[0].accept.as_deref(), Some("text/event-stream"));
    assert_eq!(
        asked[0].body,
        json!({"model": "voxtral-mini-tts-latest", "input": text, "response_format": "pcm", "stream": true})
    );
});

db_test_with!(
    speech_formats_voices_and_the_saved_voice,
    |c| {
        c.tts_model = "voxtral-mini-tts-2603".into();
    },
    |app| {
        let t = user_with(&app, "formats@example.com", KEY_A).await;
        for (format, mime) in [
            (None, "audio/mpeg"),
            (Some("mp3"), "audio/mpeg"),
            (Some("wav"), "audio/wav"),
            (Some("opus"), "audio/ogg"),
            (Some("PCM"), "audio/pcm"),
        ] {
            let text = format!("Read this as {format:?}.");
            let mut body = json!({ "text": text });
            if let Some(f) = format {
                body["format"] = json!(f);
            }
            let resp = tts_raw(&app, &t, body).await;
            assert_eq!(resp.status(), 200, "{format:?}");
            assert_eq!(resp.headers()["content-type"], mime);
            assert_eq!(
                resp.headers().contains_key("x-sample-rate"),
                mime == "audio/pcm"
            );
            let bytes = resp.bytes().await.unwrap().to_vec();
            let wire = format.unwrap_or("mp3").to_ascii_lowercase();
            assert_eq!(bytes, speech_audio(&text, &wire), "{format:?}");
            let asked = app.mistral.last_request().unwrap();
            assert_eq!(asked.body["response_format"], wire.as_str());
            assert_eq!(asked.body["model"], "voxtral-mini-tts-2603");
            assert!(asked.body.get("voice_id").is_none(), "{}", asked.body);
        }
        // A voice asked for, else the saved one.
        let r = tts(&app, &t, json!({"text": "Hi", "voice": "voice_592"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            app.mistral.last_request().unwrap().body["voice_id"],
            "voice_592"
        );
        let s = app
            .request(
                reqwest::Method::PUT,
                "/api/settings",
                Some(json!({"voiceId": "en_paul_neutral"})),
                Auth::Bearer(&t),
                &[],
            )
            .await;
        assert_eq!(s.status, 200, "{:?}", s.body);
        let r = tts(&app, &t, json!({"text": "Hi"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            app.mistral.last_request().unwrap().body["voice_id"],
            "en_paul_neutral"
        );
        let r = tts(&app, &t, json!({"text": "Hi", "voice": "gb_jane_neutral"})).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            app.mistral.last_request().unwrap().body["voice_id"],
            "gb_jane_neutral"
        );

        // Refusals before anything goes upstream.
        let before = app.mistral.requests().len();
        for (body, field) in [
            (json!({"text": "Hi", "format": "flac"}), "format:"),
            (json!({"text": "Hi", "format": "aac"}), "format:"),
            (json!({"text": "Hi", "voice": "two words"}), "voice:"),
            (json!({"text": "Hi", "lang": "english"}), "lang:"),
        ] {
            let r = tts(&app, &t, body.clone()).await;
            assert_eq!(r.status, 400, "{body}: {:?}", r.body);
            assert!(r.error().starts_with(field), "{}", r.error());
        }
        let r = tts(&app, &t, json!({"text": "Hi", "speed": 2})).await;
        assert_eq!(r.status, 400, "unknown members are refused: {:?}", r.body);
        // The reference project's clients may send a key: ignored.
        let r = tts(
            &app,
            &t,
            json!({"text": "Hi", "api_key": "from-the-client"}),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let asked = app.mistral.last_request().unwrap();
        assert_eq!(asked.api_key.as_deref(), Some(KEY_A));
        assert_eq!(app.mistral.requests().len(), before + 1);
    }
);

db_test_with!(
    text_to_speak_is_bounded,
    |c| {
        c.max_tts_chars = 20;
    },
    |app| {
        let t = user_with(&app, "limits-tts@example.com", KEY_A).await;
        for body in [json!({}), json!({"text": ""}), json!({"text": "  \n "})] {
            let r = tts(&app, &t, body.clone()).await;
            assert_eq!(r.status, 400, "{body}: {:?}", r.body);
            assert!(r.error().starts_with("text:"), "{}", r.error());
        }
        let r = tts(&app, &t, json!({"text": "a".repeat(21)})).await;
        assert_eq!(r.status, 413, "{:?}", r.body);
        assert!(r.error().contains("20 characters"), "{}", r.error());
        assert!(requests_to(&app, "/v1/audio/speech").is_empty());
        // Characters, not bytes.
        let r = tts(&app, &t, json!({"text": "é".repeat(20)})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            requests_to(&app, "/v1/audio/speech")[0].body["input"],
            "é".repeat(20)
        );
    }
);

db_test!(validate_says_whether_mistral_takes_the_key, |app| {
    let t = user_with(&app, "validate@example.com", KEY_A).await;
    let r = tts(&app, &t, json!({"validate": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"ok": true, "provider": "mistral"}));
    let asked = app.mistral.last_request().unwrap();
    assert_eq!(asked.path, "/v1/audio/voices");
    assert_eq!(asked.api_key.as_deref(), Some(KEY_A));
    app.mistral.set_valid_keys(["someone-else"]);
    let r = tts(&app, &t, json!({"validate": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"ok": false, "provider": "mistral"}));
    assert!(requests_to(&app, "/v1/audio/speech").is_empty());
});

db_test!(voices_are_the_users_voices, |app| {
    let t = user_with(&app, "voices@example.com", KEY_A).await;
    let r = app.get("/api/voices", Auth::Bearer(&t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let want: Vec<Value> = VOICES
        .iter()
        .map(|(id, name, _, langs, gender)| {
            json!({"id": id, "name": name, "languages": langs, "gender": gender})
        })
        .collect();
    assert_eq!(r.body, json!({ "voices": want }));
    let asked = requests_to(&app, "/v1/audio/voices");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].api_key.as_deref(), Some(KEY_A));
    assert_eq!(
        asked[0].body,
        json!({"limit": "100", "offset": "0", "type": "all"})
    );
    // The server function answers the same.
    let r = app.rpc("/rpc/voices", Auth::Bearer(&t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({ "voices": want }));
});

db_test!(voice_preferences_are_saved_read_and_checked, |app| {
    let t = app.register("prefs@example.com").await;
    let other = app.register("prefs-other@example.com").await;
    let s = app.get("/api/settings", Auth::Bearer(&t)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["voiceId"], Value::Null);
    assert_eq!(s.body["voiceLanguage"], Value::Null);
    assert_eq!(s.body["voiceSpeed"], 1.0);
    assert_eq!(s.body["voiceSilenceMs"], 800);
    assert_eq!(s.body["voiceBargeIn"], true);

    let put = |body: Value| {
        let app = &app;
        let t = t.clone();
        async move {
            app.request(
                reqwest::Method::PUT,
                "/api/settings",
                Some(body),
                Auth::Bearer(&t),
                &[],
            )
            .await
        }
    };
    let r = put(json!({
        "voiceId": "voice_592", "voiceLanguage": "FR", "voiceSpeed": 1.25,
        "voiceSilenceMs": 1200, "voiceBargeIn": false
    }))
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let saved = json!({"voiceId": "voice_592", "voiceLanguage": "fr", "voiceSpeed": 1.25,
                       "voiceSilenceMs": 1200, "voiceBargeIn": false});
    for (k, v) in saved.as_object().unwrap() {
        assert_eq!(&r.body[k], v, "{k}");
    }
    let s = app.get("/api/settings", Auth::Bearer(&t)).await;
    for (k, v) in saved.as_object().unwrap() {
        assert_eq!(&s.body[k], v, "{k} read back");
    }
    // Absent members stay; null clears; the bounds are inclusive.
    let r = put(json!({"voiceSpeed": 2.0, "voiceSilenceMs": 200, "voiceId": null})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["voiceSpeed"], 2.0);
    assert_eq!(r.body["voiceSilenceMs"], 200);
    assert_eq!(r.body["voiceId"], Value::Null);
    assert_eq!(r.body["voiceLanguage"], "fr");
    assert_eq!(r.body["voiceBargeIn"], false);
    let r = put(json!({"voiceSpeed": 0.5, "voiceSilenceMs": 3000, "voiceLanguage": ""})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["voiceLanguage"], Value::Null);

    // Refusals name the field, and nothing of the request is saved.
    let before = app.get("/api/settings", Auth::Bearer(&t)).await.body;
    for (body, field) in [
        (json!({"voiceSpeed": 0.49}), "voiceSpeed:"),
        (json!({"voiceSpeed": 2.01}), "voiceSpeed:"),
        (json!({"voiceSilenceMs": 199}), "voiceSilenceMs:"),
        (json!({"voiceSilenceMs": 3001}), "voiceSilenceMs:"),
        (json!({"voiceSilenceMs": -800}), "voiceSilenceMs:"),
        (json!({"voiceLanguage": "fra"}), "voiceLanguage:"),
        (json!({"voiceId": "two words"}), "voiceId:"),
        (json!({"theme": "dark", "voiceSpeed": 9}), "voiceSpeed:"),
    ] {
        let r = put(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(r.error().starts_with(field), "{body}: {}", r.error());
    }
    for body in [
        json!({"voiceSilenceMs": 800.5}),
        json!({"voiceBargeIn": "yes"}),
    ] {
        let r = put(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    }
    assert_eq!(
        app.get("/api/settings", Auth::Bearer(&t)).await.body,
        before
    );

    // The server function saves them all at once.
    let r = app
        .rpc_form(
            "/rpc/save_voice_settings",
            "voice_id=gb_jane_neutral&voice_language=EN&voice_speed=1.5&voice_silence_ms=600&voice_barge_in=true",
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let dto: SettingsDto = serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(dto.voice_id.as_deref(), Some("gb_jane_neutral"));
    assert_eq!(dto.voice_language.as_deref(), Some("en"));
    assert_eq!(dto.voice_speed, 1.5);
    assert_eq!(dto.voice_silence_ms, 600);
    assert!(dto.voice_barge_in);
    let r = app
        .rpc_form(
            "/rpc/save_voice_settings",
            "voice_id=&voice_language=&voice_speed=3&voice_silence_ms=600",
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().starts_with("voiceSpeed:"), "{:?}", r.body);

    // Someone else's settings are untouched.
    let o = app.get("/api/settings", Auth::Bearer(&other)).await;
    assert_eq!(o.body["voiceSpeed"], 1.0);
    assert_eq!(o.body["voiceId"], Value::Null);
    // A client that predates voice reads settings without these members.
    let mut old = o.body.clone();
    for k in [
        "voiceId",
        "voiceLanguage",
        "voiceSpeed",
        "voiceSilenceMs",
        "voiceBargeIn",
    ] {
        old.as_object_mut().unwrap().remove(k);
    }
    let dto: SettingsDto = serde_json::from_value(old).unwrap();
    assert_eq!(
        (dto.voice_speed, dto.voice_silence_ms, dto.voice_barge_in),
        (1.0, 800, true)
    );
});

db_test!(one_users_key_never_serves_another, |app| {
    let a = user_with(&app, "alice-voice@example.com", KEY_A).await;
    let b = user_with(&app, "bob-voice@example.com", KEY_B).await;
    let nokey = app.register("carol-voice@example.com").await;
    // Alice's preferences are hers.
    let s = app
        .request(
            reqwest::Method::PUT,
            "/api/settings",
            Some(json!({"voiceId": "voice_592", "voiceLanguage": "fr"})),
            Auth::Bearer(&a),
            &[],
        )
        .await;
    assert_eq!(s.status, 200);
    for (t, key) in [(&a, KEY_A), (&b, KEY_B)] {
        app.mistral.clear_requests();
        let r = transcribe(&app, Auth::Bearer(t), ogg(b"x"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = tts(&app, t, json!({"text": "Hello"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = tts(&app, t, json!({"validate": true})).await;
        assert_eq!(r.body["ok"], true);
        let r = app.get("/api/voices", Auth::Bearer(t)).await;
        assert_eq!(r.status, 200);
        let seen = app.mistral.requests();
        assert_eq!(seen.len(), 4, "{seen:?}");
        for req in seen {
            assert_eq!(
                req.api_key.as_deref(),
                Some(key),
                "{} {}",
                req.method,
                req.path
            );
        }
    }
    // Bob got none of Alice's voice or language.
    let bobs = app.mistral.transcriptions().last().cloned().unwrap();
    assert_eq!(bobs.language, None);
    let bobs_speech = requests_to(&app, "/v1/audio/speech");
    assert!(
        bobs_speech[0].body.get("voice_id").is_none(),
        "{}",
        bobs_speech[0].body
    );
    // Without a key of her own, Carol gets no one else's.
    app.mistral.clear_requests();
    let r = transcribe(&app, Auth::Bearer(&nokey), ogg(b"x"), None).await;
    assert_eq!(r.status, 400);
    let r = tts(&app, &nokey, json!({"text": "Hello"})).await;
    assert_eq!(r.status, 400);
    let r = app.get("/api/voices", Auth::Bearer(&nokey)).await;
    assert_eq!(r.status, 400);
    assert!(app.mistral.requests().is_empty());
});

db_test_with!(
    the_operators_tts_provider_speaks_when_configured,
    |c| {
        c.tts_api_base = Some(c.mistral_api_base.clone());
        c.tts_api_key = Some(Secret::new(OPERATOR_TTS_KEY));
    },
    |app| {
        // No Mistral key needed: the provider uses the operator's key.
        let t = app.register("provider@example.com").await;
        let text = "Bonjour [[fake:tts-ms=60]] à tous";
        let resp = tts_raw(&app, &t, json!({"text": text})).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "audio/mpeg");
        assert!(!resp.headers().contains_key("x-sample-rate"));
        let (at, bytes) = read_timed(resp).await;
        assert_eq!(bytes, speech_audio(text, "mp3"));
        assert!(at.len() > 1, "streamed: {} piece(s)", at.len());
        assert!(at[at.len() - 1] - at[0] >= Duration::from_millis(60));
        let asked = requests_to(&app, "/tts/generate");
        assert_eq!(asked.len(), 1);
        assert_eq!(
            asked[0].body,
            json!({"api_key": OPERATOR_TTS_KEY, "text": text, "lang": "fr"})
        );
        assert!(requests_to(&app, "/v1/audio/speech").is_empty());

        // lang as given, else the saved language, else fr.
        let r = tts(&app, &t, json!({"text": "Hello", "lang": "EN"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(app.mistral.last_request().unwrap().body["lang"], "en");
        let s = app
            .request(
                reqwest::Method::PUT,
                "/api/settings",
                Some(json!({"voiceLanguage": "de"})),
                Auth::Bearer(&t),
                &[],
            )
            .await;
        assert_eq!(s.status, 200);
        let r = tts(&app, &t, json!({"text": "Hallo"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(app.mistral.last_request().unwrap().body["lang"], "de");

        // MP3 only; validate and voices speak for the provider.
        let r = tts(&app, &t, json!({"text": "Hi", "format": "wav"})).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(r.error().starts_with("format:"), "{}", r.error());
        let r = tts(&app, &t, json!({"validate": true})).await;
        assert_eq!(r.body, json!({"ok": true, "provider": "tts"}));
        assert_eq!(
            app.mistral.last_request().unwrap().body,
            json!({"api_key": OPERATOR_TTS_KEY})
        );
        let r = app.get("/api/voices", Auth::Bearer(&t)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body, json!({"voices": []}));
        assert!(requests_to(&app, "/v1/audio/voices").is_empty());

        // The provider's failures.
        let r = tts(&app, &t, json!({"text": "[[fake:status=500]]"})).await;
        assert_eq!(r.status, 502, "{:?}", r.body);
        assert!(
            r.error().contains("text-to-speech provider is unavailable"),
            "{}",
            r.error()
        );
        let r = tts(&app, &t, json!({"text": "[[fake:status=429]]"})).await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert_eq!(r.headers["retry-after"], "7");
        app.mistral
            .configure(|c| c.tts_provider_keys = Some(["a-newer-key".to_string()].into()));
        let r = tts(&app, &t, json!({"validate": true})).await;
        assert_eq!(r.body, json!({"ok": false, "provider": "tts"}));
        let r = tts(&app, &t, json!({"text": "Hello"})).await;
        assert_eq!(r.status, 502, "{:?}", r.body);
        assert!(
            r.error().contains("refused this server's key"),
            "{}",
            r.error()
        );
        assert!(!r.body.to_string().contains(OPERATOR_TTS_KEY));

        // Transcription is still Mistral's, with the user's own key.
        let r = transcribe(&app, Auth::Bearer(&t), ogg(b""), None).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(app.mistral.transcriptions().is_empty());
    }
);

db_test!(
    a_spoken_question_is_kept_as_spoken_and_answered_for_the_ear,
    |app| {
        let t = user_with(&app, "spoken@example.com", KEY_A).await;
        let instruction = app::server::services::chat::SPOKEN_INSTRUCTION;
        let systems = |app: &TestApp| -> Vec<String> {
            requests_to(app, "/v1/chat/completions")
                .iter()
                .map(|r| {
                    r.body["messages"]
                        .as_array()
                        .and_then(|m| m.iter().find(|m| m["role"] == "system"))
                        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
                        .unwrap_or_default()
                })
                .collect()
        };
        // Said in a call: stored as spoken, the model told to answer for the ear.
        let r = app
            .rpc_form(
                "/rpc/send_message",
                "text=What%20is%20the%20time%3F&think=false&spoken=true",
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["userMessage"]["spoken"], true, "{:?}", r.body);
        let thread = r.body["thread"]["id"].as_str().unwrap().to_string();
        let answer = r.body["assistantMessage"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.settled(&t, &answer, &thread).await;
        assert!(
            systems(&app)[0].contains(instruction),
            "{:?}",
            systems(&app)
        );

        // Typed next: no mark, no instruction; the JSON API leaves `spoken` out.
        let r = app
            .rpc_form(
                "/rpc/send_message",
                &format!("thread_id={thread}&text=And%20now%3F&think=false"),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let typed_answer = r.body["assistantMessage"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.settled(&t, &typed_answer, &thread).await;
        let chats = systems(&app);
        assert!(!chats.last().unwrap().contains(instruction), "{chats:?}");
        let page = app
            .get(&format!("/api/thread?idThread={thread}"), Auth::Bearer(&t))
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let text = page.body.to_string();
        assert_eq!(text.matches("\"spoken\":true").count(), 1, "{text}");
        assert!(!text.contains("\"spoken\":false"), "{text}");

        // Regenerating the answer to the spoken question keeps the instruction.
        let r = app
            .post(
                "/api/chat/regenerate",
                json!({"messageId": answer}),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let again = r.body["assistantMessage"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        app.settled(&t, &again, &thread).await;
        assert!(
            systems(&app).last().unwrap().contains(instruction),
            "{:?}",
            systems(&app)
        );
    }
);
