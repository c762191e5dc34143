//! Chat end to end: real router and database, the fake Mistral upstream.
use crate::support::*;
use app::server::config::DEFAULT_TITLE_MODEL;
use app::server::entities::messages;
use app::server::services::titles::TITLE_INSTRUCTION;
use app::vocab::{MessageStatus, StreamEvent};
use sea_orm::EntityTrait;
use serde_json::json;
use std::time::Duration;
use testkit::mistral::{echo_reply, FakeFailure};

const KEY: &str = "sk-test-key-1234";

/// A new user whose Mistral key is stored (and never sent back).
pub(crate) async fn user_with_key(app: &TestApp, email: &str) -> String {
    let t = app.register(email).await;
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/settings/key",
            Some(json!({"apiKey": KEY})),
            Auth::Bearer(&t),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["hasKey"], true);
    assert_eq!(r.body["keyLast4"], "1234");
    assert!(
        !r.body.to_string().contains(KEY),
        "the key is never sent back"
    );
    t
}

/// Whether a recorded request asked for a thread title.
fn is_title_request(r: &testkit::mistral::RecordedRequest) -> bool {
    r.messages()
        .first()
        .is_some_and(|(role, text)| role == "system" && text == TITLE_INSTRUCTION)
}

/// The last answer request the fake received (catalogue fetches and title
/// requests may follow it).
fn last_chat(app: &TestApp) -> testkit::mistral::RecordedRequest {
    app.mistral
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/chat/completions") && !is_title_request(r))
        .expect("a chat completion request")
}

pub(crate) async fn row(app: &TestApp, id: &str) -> messages::Model {
    messages::Entity::find_by_id(id.to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn wait_status(app: &TestApp, id: &str, not: &str) -> messages::Model {
    for _ in 0..200 {
        let m = row(app, id).await;
        if m.status != not {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {id} stayed {not}");
}

db_test!(send_streams_and_persists_the_answer_with_usage, |app| {
    let t = user_with_key(&app, "chat@example.com").await;
    app.mistral.configure(|c| c.awkward_chunking = true);
    let r = app
        .send_body(
            &t,
            json!({"text": "Hello there", "model": "mistral-small-latest"}),
        )
        .await;
    let (thread_id, assistant_id) = (r.thread_id(), r.answer_id());
    assert_eq!(r.body["assistantMessage"]["status"], "streaming");
    assert_eq!(r.body["userMessage"]["text"], "Hello there");

    let answer = app.answer(&t, &assistant_id).await;
    assert_eq!(answer.text, echo_reply("Hello there"));
    assert_eq!(answer.done["status"], "done");
    // The stream ends with `done`, and every event after the opening
    // snapshot carries its own id (a reconnect resumes after it; an
    // inherited id would make the browser replay events).
    let typed = answer.typed();
    assert!(
        matches!(
            typed.last(),
            Some(StreamEvent::Done {
                status: MessageStatus::Done,
                ..
            })
        ),
        "{typed:?}"
    );
    assert!(answer
        .events
        .iter()
        .filter(|e| e.event != "snapshot")
        .all(|e| e.has_id));

    let m = wait_status(&app, &assistant_id, "streaming").await;
    assert_eq!(m.text, echo_reply("Hello there"));
    assert_eq!(m.status, "done");
    assert_eq!(m.model.as_deref(), Some("mistral-small-latest"));
    assert!(m.prompt_tokens.unwrap_or(0) > 0 && m.completion_tokens.unwrap_or(0) > 0);
    assert_eq!(m.finish_reason.as_deref(), Some("stop"));

    // What went upstream: the user's key, the model, the history.
    let req = last_chat(&app);
    assert_eq!(req.api_key.as_deref(), Some(KEY));
    assert_eq!(req.body["model"], "mistral-small-latest");
    assert_eq!(req.body["stream"], true);
    assert_eq!(
        req.messages(),
        vec![("user".to_string(), "Hello there".to_string())]
    );

    // The thread lists the exchange.
    let page = app
        .get(
            &format!("/api/thread?idThread={thread_id}"),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(page.body["messages"].as_array().unwrap().len(), 2);
});

db_test!(
    the_web_ui_stream_carries_the_answer_rendered_by_the_server,
    |app| {
        let t = user_with_key(&app, "html@example.com").await;
        let sent = app
            .send(&t, "Markdown please [[fake:long words=400 tps=2000]]")
            .await;
        let (thread_id, id) = (sent.thread_id(), sent.answer_id());
        // `Last-Event-ID` is ignored: an HTML reader always starts from a snapshot.
        let (status, sse) = SseReader::open(
            &app,
            &format!("/api/generations/{id}/events?render=html"),
            &t,
            Some("3"),
        )
        .await;
        assert_eq!(status, 200);
        let answer = sse.unwrap().answer().await;
        assert_eq!(answer.done["status"], "done");
        let typed = answer.typed();
        // (That `Last-Event-ID` was ignored shows below: the text read is whole.)
        let first_html = typed.iter().find(|e| matches!(e, StreamEvent::Html { .. }));
        assert!(
            matches!(first_html, Some(StreamEvent::Html { reset: true, .. })),
            "the first html replaces what the page shows: {first_html:?}"
        );
        // What the page shows once the html events are applied is the
        // renderer's output for the stored answer, and the raw text still came.
        let (mut finished, mut tail, mut htmls) = (String::new(), String::new(), 0);
        for ev in &typed {
            if let StreamEvent::Html {
                reset,
                append,
                tail: t,
            } = ev
            {
                htmls += 1;
                if *reset {
                    finished.clear();
                }
                finished.push_str(append);
                tail.clone_from(t);
            }
        }
        let stored = wait_status(&app, &id, "streaming").await;
        assert!(stored.text.ends_with("End of the long answer."));
        assert_eq!(answer.text, stored.text);
        assert!(htmls >= 1);
        assert_eq!(finished + &tail, app::markdown::render(&stored.text));
        assert!(tail.is_empty(), "everything is finished at done");
        // The html events carry no id: they are not places in the log.
        assert!(answer
            .events
            .iter()
            .filter(|e| e.event == "html")
            .all(|e| !e.has_id));

        // Other readers get no html.
        let plain = app.answer(&t, &id).await;
        assert!(plain.events.iter().all(|e| e.event != "html"));
        // Anything else than `html` is refused, in words.
        let bad = app
            .get(
                &format!("/api/generations/{id}/events?render=markdown"),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.error().contains("render"), "{:?}", bad.body);

        // The web UI's server functions send messages with their HTML; the JSON
        // API's shape stays the reference's (no html field).
        let page = app
            .rpc_form(
                "/rpc/load_thread_page",
                &format!("id={thread_id}"),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let messages = page.body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[1]["html"].as_str(),
            Some(app::markdown::render(&stored.text).as_str())
        );
        assert_eq!(
            messages[0]["html"].as_str(),
            Some(
                app::markdown::render_user("Markdown please [[fake:long words=400 tps=2000]]")
                    .as_str()
            )
        );
        let api = app
            .get(
                &format!("/api/thread?idThread={thread_id}"),
                Auth::Bearer(&t),
            )
            .await;
        assert!(api.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("html").is_none()));
    }
);

db_test!(history_and_context_are_sent_upstream, |app| {
    let t = user_with_key(&app, "hist@example.com").await;
    let created = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": "Ctx", "context": "You are terse."}}),
            Auth::Bearer(&t),
        )
        .await;
    let tid = created.body["thread"]["id"].as_str().unwrap().to_string();
    let first = app
        .post(
            "/api/chat",
            json!({"threadId": tid, "text": "One"}),
            Auth::Bearer(&t),
        )
        .await;
    let a1 = first.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&app, &a1, "streaming").await;
    let second = app
        .post(
            "/api/chat",
            json!({"threadId": tid, "parentId": a1, "text": "Two"}),
            Auth::Bearer(&t),
        )
        .await;
    let a2 = second.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&app, &a2, "streaming").await;
    let sent = last_chat(&app).messages();
    assert_eq!(
        sent,
        vec![
            ("system".to_string(), "You are terse.".to_string()),
            ("user".to_string(), "One".to_string()),
            ("assistant".to_string(), echo_reply("One")),
            ("user".to_string(), "Two".to_string()),
        ]
    );
});

db_test!(a_reconnecting_reader_gets_the_whole_answer, |app| {
    let t = user_with_key(&app, "recon@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(30));
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Tell me something long"}),
            Auth::Bearer(&t),
        )
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/generations/{id}/events");

    // Read a few deltas, then drop the connection (a closed tab).
    let (_, sse) = SseReader::open(&app, &path, &t, None).await;
    let mut sse = sse.unwrap();
    let mut partial = String::new();
    let mut last_id = String::new();
    for _ in 0..3 {
        let ev = sse.next().await.unwrap();
        match ev.event.as_str() {
            // What was written before this reader came, in one piece.
            "snapshot" => partial = ev.data["text"].as_str().unwrap().to_string(),
            "delta" => partial.push_str(ev.data["text"].as_str().unwrap()),
            other => panic!("unexpected {other} event"),
        }
        last_id = ev.id.clone().unwrap();
    }
    drop(sse);

    // Reconnect with Last-Event-ID: the rest, without repeats.
    let (_, sse) = SseReader::open(&app, &path, &t, Some(&last_id)).await;
    let (rest, _, done, _) = sse.unwrap().collect().await;
    assert_eq!(
        format!("{partial}{rest}"),
        echo_reply("Tell me something long")
    );
    assert_eq!(done["status"], "done");

    // After the end, a new reader gets the stored answer.
    let (_, sse) = SseReader::open(&app, &path, &t, None).await;
    let (text, _, done, _) = sse.unwrap().collect().await;
    assert_eq!(text, echo_reply("Tell me something long"));
    assert_eq!(done["status"], "done");
});

db_test!(a_late_reader_gets_one_snapshot_then_the_rest, |app| {
    // A page reloaded mid-answer already shows the stored part: the stream
    // must hand it the text so far once (to replace), never a replay to append.
    let t = user_with_key(&app, "late@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(40));
    let question = "one two three four five six seven eight nine ten eleven twelve";
    let r = app
        .post("/api/chat", json!({"text": question}), Auth::Bearer(&t))
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/generations/{id}/events");
    // Let a few tokens through with no reader at all.
    let (_, first) = SseReader::open(&app, &path, &t, None).await;
    let mut first = first.unwrap();
    let mut deltas_seen = 0;
    while deltas_seen < 5 {
        let ev = first.next().await.unwrap();
        if ev.event == "delta" || ev.event == "snapshot" {
            deltas_seen += 1;
        }
    }
    drop(first);

    let (_, late) = SseReader::open(&app, &path, &t, None).await;
    let mut late = late.unwrap();
    let opening = late.next().await.unwrap();
    assert_eq!(opening.event, "snapshot", "got {:?}", opening.data);
    assert_eq!(opening.data["status"], "streaming");
    let so_far = opening.data["text"].as_str().unwrap().to_string();
    assert!(!so_far.is_empty());
    assert!(echo_reply(question).starts_with(&so_far));
    let snapshot_id: u64 = opening.id.clone().unwrap().parse().unwrap();
    let (rest, _, done, seen) = late.collect().await;
    assert_eq!(done["status"], "done");
    assert_eq!(format!("{so_far}{rest}"), echo_reply(question));
    // Only deltas after the snapshot follow, with later ids.
    assert!(seen.iter().all(|e| e.event != "snapshot"));
    for e in seen.iter().filter(|e| e.event == "delta") {
        assert!(e.id.as_deref().unwrap().parse::<u64>().unwrap() > snapshot_id);
    }
});

db_test!(
    a_server_function_answers_a_users_mistake_with_a_4xx,
    |app| {
        // No key yet: the browser's send must get a 400 with what to do, not a 500.
        let t = app.register("nokey-rpc@example.com").await;
        let r = app
            .rpc_form(
                "/rpc/send_message",
                "text=Hello&think=false",
                Auth::Cookie(&t),
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let body = r.body.to_string();
        assert!(body.contains("Settings"), "{body}");
        assert_eq!(app.count("messages").await, 0);
    }
);

db_test!(the_answer_finishes_without_any_reader, |app| {
    let t = user_with_key(&app, "noreader@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(5));
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Nobody listens"}),
            Auth::Bearer(&t),
        )
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = wait_status(&app, &id, "streaming").await;
    assert_eq!(m.status, "done");
    assert_eq!(m.text, echo_reply("Nobody listens"));
});

db_test!(stop_keeps_the_partial_answer, |app| {
    let t = user_with_key(&app, "stop@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(100));
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Please stop me"}),
            Auth::Bearer(&t),
        )
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, sse) = SseReader::open(&app, &format!("/api/generations/{id}/events"), &t, None).await;
    let mut sse = sse.unwrap();
    // Some of the answer is out: a `delta`, or — when the first tokens came
    // before this reader connected (a slow commit) — a `snapshot` of them.
    let first = sse.next().await.unwrap();
    assert!(
        matches!(first.event.as_str(), "delta" | "snapshot"),
        "{first:?}"
    );
    assert!(
        !first.data["text"].as_str().unwrap_or_default().is_empty(),
        "{first:?}"
    );
    let s = app
        .post(
            &format!("/api/generations/{id}/stop"),
            json!({}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert_eq!(s.body["status"], "stopped");
    let (_, _, done, _) = sse.collect().await;
    assert_eq!(done["status"], "stopped");
    let m = row(&app, &id).await;
    assert_eq!(m.status, "stopped");
    assert!(!m.text.is_empty() && m.text.len() < echo_reply("Please stop me").len());
});

db_test!(regenerate_and_edit_build_the_tree, |app| {
    let t = user_with_key(&app, "tree@example.com").await;
    let r = app
        .post("/api/chat", json!({"text": "Question"}), Auth::Bearer(&t))
        .await;
    let tid = r.body["thread"]["id"].as_str().unwrap().to_string();
    let u1 = r.body["userMessage"]["id"].as_str().unwrap().to_string();
    let a1 = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&app, &a1, "streaming").await;

    let regen = app
        .post(
            "/api/chat/regenerate",
            json!({"messageId": a1, "model": "mistral-large-latest"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(regen.status, 201, "{:?}", regen.body);
    let a2 = regen.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(regen.body["userMessage"].is_null());
    let m2 = wait_status(&app, &a2, "streaming").await;
    assert_eq!(
        m2.parent_id.as_deref(),
        Some(u1.as_str()),
        "a sibling of the first answer"
    );
    assert_eq!(m2.model.as_deref(), Some("mistral-large-latest"));
    assert_eq!(last_chat(&app).body["model"], "mistral-large-latest");

    let edit = app
        .post(
            "/api/chat/edit",
            json!({"messageId": u1, "text": "Better question"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(edit.status, 201, "{:?}", edit.body);
    let u2 = edit.body["userMessage"]["id"].as_str().unwrap().to_string();
    let a3 = edit.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m3 = wait_status(&app, &a3, "streaming").await;
    assert_eq!(
        row(&app, &u2).await.parent_id,
        None,
        "a sibling of the first question"
    );
    assert_eq!(m3.parent_id.as_deref(), Some(u2.as_str()));
    assert_eq!(m3.text, echo_reply("Better question"));
    assert_eq!(
        last_chat(&app).messages(),
        vec![("user".to_string(), "Better question".to_string())]
    );
    let all = app
        .get(&format!("/api/thread?idThread={tid}"), Auth::Bearer(&t))
        .await;
    assert_eq!(all.body["messages"].as_array().unwrap().len(), 5);

    // Only answers regenerate, only questions edit.
    assert_eq!(
        app.post(
            "/api/chat/regenerate",
            json!({"messageId": u1}),
            Auth::Bearer(&t)
        )
        .await
        .status,
        400
    );
    assert_eq!(
        app.post(
            "/api/chat/edit",
            json!({"messageId": a1, "text": "x"}),
            Auth::Bearer(&t)
        )
        .await
        .status,
        400
    );
});

db_test!(strangers_cannot_read_stop_or_branch_a_generation, |app| {
    let owner = user_with_key(&app, "owner@example.com").await;
    let other = user_with_key(&app, "other@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(50));
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Private"}),
            Auth::Bearer(&owner),
        )
        .await;
    let tid = r.body["thread"]["id"].as_str().unwrap().to_string();
    let u = r.body["userMessage"]["id"].as_str().unwrap().to_string();
    let a = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for query in ["", "?render=html"] {
        let (status, _) = SseReader::open(
            &app,
            &format!("/api/generations/{a}/events{query}"),
            &other,
            None,
        )
        .await;
        assert_eq!(status, 404, "{query}");
    }
    let s = app
        .post(
            &format!("/api/generations/{a}/stop"),
            json!({}),
            Auth::Bearer(&other),
        )
        .await;
    assert_eq!(s.status, 404);
    for (path, body) in [
        ("/api/chat/regenerate", json!({"messageId": a})),
        ("/api/chat/edit", json!({"messageId": u, "text": "hijack"})),
        ("/api/chat", json!({"threadId": tid, "text": "hijack"})),
        ("/api/chat", json!({"parentId": a, "text": "hijack"})),
    ] {
        let r = app.post(path, body, Auth::Bearer(&other)).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
    }
    let m = wait_status(&app, &a, "streaming").await;
    assert_eq!(m.status, "done", "the owner's answer was not stopped");
    assert_eq!(app.count("messages").await, 2);
});

db_test!(upstream_errors_become_sentences, |app| {
    let t = user_with_key(&app, "errs@example.com").await;
    app.mistral.fail(FakeFailure::Unauthorized);
    let r = app
        .post("/api/chat", json!({"text": "Hi"}), Auth::Bearer(&t))
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = wait_status(&app, &id, "streaming").await;
    assert_eq!(m.status, "error");
    assert_eq!(
        m.error.as_deref(),
        Some("Your Mistral API key was refused — update it in Settings → Models")
    );
    let (_, sse) = SseReader::open(&app, &format!("/api/generations/{id}/events"), &t, None).await;
    let (_, _, done, _) = sse.unwrap().collect().await;
    assert_eq!(done["status"], "error");
    assert!(done["error"]
        .as_str()
        .unwrap()
        .contains("Settings → Models"));

    app.mistral.fail(FakeFailure::RateLimited {
        retry_after_secs: Some(7),
    });
    let r = app
        .post(
            "/api/chat",
            json!({"threadId": r.body["thread"]["id"], "text": "Again"}),
            Auth::Bearer(&t),
        )
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = wait_status(&app, &id, "streaming").await;
    assert!(m.error.unwrap().contains("retry in 7 s"));

    app.mistral.clear_failure();
    app.mistral.fail(FakeFailure::DieAfterTokens(3));
    let r = app
        .post("/api/chat", json!({"text": "Die"}), Auth::Bearer(&t))
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = wait_status(&app, &id, "streaming").await;
    assert_eq!(m.status, "interrupted");
    assert!(!m.text.is_empty(), "the partial answer is kept");
});

#[tokio::test]
async fn without_a_key_sending_says_what_to_do() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = app.register("nokey@example.com").await;
    let r = app
        .post("/api/chat", json!({"text": "Hi"}), Auth::Bearer(&t))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().contains("Settings → Models"));
    assert_eq!(app.count("threads").await, 0, "nothing stored");
    let r = app.get("/api/models", Auth::Bearer(&t)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn the_catalogue_lists_capabilities() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "models@example.com").await;
    let r = app.get("/api/models", Auth::Bearer(&t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let models = r.body["models"].as_array().unwrap();
    let magistral = models
        .iter()
        .find(|m| m["id"].as_str().unwrap().starts_with("magistral"))
        .unwrap();
    assert_eq!(magistral["reasoning"], true);
    assert!(models.iter().any(|m| m["vision"] == true));
    assert!(models.iter().any(|m| !m["deprecation"].is_null()));
    // Cached per key: a second call does not go upstream.
    let before = app.mistral.requests().len();
    app.get("/api/models", Auth::Bearer(&t)).await;
    assert_eq!(app.mistral.requests().len(), before);
    app.get("/api/models?fresh=1", Auth::Bearer(&t)).await;
    assert_eq!(app.mistral.requests().len(), before + 1);
}

#[tokio::test]
async fn the_stored_key_is_sealed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let _t = user_with_key(&app, "sealed@example.com").await;
    let rows = app::server::entities::user_settings::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let sealed = rows[0].mistral_key_enc.clone().unwrap();
    assert!(!sealed.contains(KEY));
    assert_eq!(app.state.secrets.open(&sealed).unwrap(), KEY);
}

#[tokio::test]
async fn a_restart_marks_unfinished_answers_interrupted() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "restart@example.com").await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(200));
    let r = app
        .post("/api/chat", json!({"text": "Slow"}), Auth::Bearer(&t))
        .await;
    let id = r.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What a new process does at startup, against the same database.
    app::server::services::generation_recovery(&app.state).await;
    assert_eq!(row(&app, &id).await.status, "interrupted");
}

/// POSTs a chat request that must be accepted (201); its body.
async fn accepted(
    app: &TestApp,
    t: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = app.post(path, body, Auth::Bearer(t)).await;
    assert_eq!(r.status, 201, "{path}: {:?}", r.body);
    r.body
}

/// Waits until the answer `a` in thread `tid` and everything it causes (the
/// title request and the rename, or its skipping) are over; there must have
/// been a title request.
async fn wait_title_request(app: &TestApp, t: &str, a: &str, tid: &str) {
    app.settled(t, a, tid).await;
    assert!(app.mistral.requests().iter().any(is_title_request));
}

/// `v[key].id` as a string.
pub(crate) fn id_in(v: &serde_json::Value, key: &str) -> String {
    v[key]["id"].as_str().unwrap().to_string()
}

async fn thread_name(app: &TestApp, t: &str, id: &str) -> String {
    let r = app
        .get(&format!("/api/thread?idThread={id}"), Auth::Bearer(t))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["thread"]["name"].as_str().unwrap().to_string()
}

/// Polls until the thread's name differs from `from` (at most ~5 s).
async fn wait_rename(app: &TestApp, t: &str, id: &str, from: &str) -> String {
    for _ in 0..200 {
        let name = thread_name(app, t, id).await;
        if name != from {
            return name;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("thread {id} kept the name {from:?}");
}

db_test!(
    a_new_thread_is_titled_by_the_cheap_model_after_its_first_answer,
    |app| {
        let t = user_with_key(&app, "title@example.com").await;
        app.mistral
            .configure(|c| c.reply = Some("\"Greetings and salutations\".\nSecond line".into()));
        let r = accepted(
            &app,
            &t,
            "/api/chat",
            json!({"text": "Hello there, how are you today?"}),
        )
        .await;
        let tid = id_in(&r, "thread");
        let a = id_in(&r, "assistantMessage");
        assert_eq!(r["thread"]["name"], "Hello there, how are you today?");
        let m = wait_status(&app, &a, "streaming").await;
        assert_eq!(m.status, "done");
        let name = wait_rename(&app, &t, &tid, "Hello there, how are you today?").await;
        assert_eq!(name, "Greetings and salutations");
        let titles: Vec<_> = app
            .mistral
            .requests()
            .into_iter()
            .filter(is_title_request)
            .collect();
        assert_eq!(titles.len(), 1, "one title request");
        let req = &titles[0];
        assert_eq!(req.body["model"], DEFAULT_TITLE_MODEL);
        assert_ne!(req.body["stream"], true);
        assert_eq!(req.api_key.as_deref(), Some(KEY));
        let prompt = &req.messages()[1].1;
        assert!(prompt.contains("Hello there, how are you today?") && prompt.contains("Greetings"));

        // The second exchange does not rename the thread again.
        let a2 = app.send_in(&t, &tid, "And then?").await.answer_id();
        // Barrier, not a sleep: once settled, a title request would have been sent.
        app.settled(&t, &a2, &tid).await;
        assert_eq!(
            app.mistral
                .requests()
                .into_iter()
                .filter(is_title_request)
                .count(),
            1
        );
        assert_eq!(
            thread_name(&app, &t, &tid).await,
            "Greetings and salutations"
        );
    }
);

#[tokio::test]
async fn a_thread_renamed_while_answering_keeps_its_new_name() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "rename@example.com").await;
    app.mistral.configure(|c| {
        c.reply = Some("Model title".into());
        c.token_delay = Duration::from_millis(100);
    });
    let r = accepted(&app, &t, "/api/chat", json!({"text": "question"})).await;
    let tid = id_in(&r, "thread");
    let a = id_in(&r, "assistantMessage");
    let rn = app
        .post(
            "/api/thread",
            json!({"action": "update", "idThread": tid, "data": {"name": "Mine"}}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(rn.status, 200, "{:?}", rn.body);
    wait_title_request(&app, &t, &a, &tid).await;
    // The title request was made, but the user's name wins.
    assert_eq!(thread_name(&app, &t, &tid).await, "Mine");
}

#[tokio::test]
async fn a_markdown_question_names_its_thread_in_plain_text() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "plain@example.com").await;
    app.mistral
        .configure(|c| c.reply = Some("**Rust** `lifetimes`, [explained](https://x.y)".into()));
    let r = accepted(
        &app,
        &t,
        "/api/chat",
        json!({"text": "## **Bold** `code` [question](https://x.y)\nmore"}),
    )
    .await;
    let tid = id_in(&r, "thread");
    assert_eq!(r["thread"]["name"], "Bold code question");
    let name = wait_rename(&app, &t, &tid, "Bold code question").await;
    assert_eq!(name, "Rust lifetimes, explained");
}

/// The new-chat page creates an empty thread to hold a context chosen before
/// the first question: that thread is named by its first exchange; an empty
/// thread the user named keeps its name.
#[tokio::test]
async fn an_empty_unnamed_thread_is_titled_by_its_first_exchange() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "emptytitle@example.com").await;
    app.mistral
        .configure(|c| c.reply = Some("Pirate greetings".into()));
    let create = |data: serde_json::Value| {
        let (app, t) = (&app, &t);
        async move {
            let r = app
                .post(
                    "/api/thread",
                    json!({"action": "create", "data": data}),
                    Auth::Bearer(t),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["thread"]["id"].as_str().unwrap().to_string()
        }
    };
    let unnamed = create(json!({"context": "Talk like a pirate."})).await;
    let r = accepted(
        &app,
        &t,
        "/api/chat",
        json!({"threadId": unnamed, "text": "Ahoy"}),
    )
    .await;
    let a = id_in(&r, "assistantMessage");
    wait_title_request(&app, &t, &a, &unnamed).await;
    assert_eq!(
        wait_rename(&app, &t, &unnamed, "New chat").await,
        "Pirate greetings"
    );

    let named = create(json!({"name": "My notes"})).await;
    let r = accepted(
        &app,
        &t,
        "/api/chat",
        json!({"threadId": named, "text": "Hello"}),
    )
    .await;
    // Barrier, not a sleep: once settled, a title request would have been sent.
    app.settled(&t, &id_in(&r, "assistantMessage"), &named)
        .await;
    let titles = app
        .mistral
        .requests()
        .into_iter()
        .filter(is_title_request)
        .count();
    assert_eq!(titles, 1, "only the unnamed thread was titled");
    assert_eq!(thread_name(&app, &t, &named).await, "My notes");
}

#[tokio::test]
async fn an_unusable_title_keeps_the_first_line() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "notitle@example.com").await;
    // Only quotes and emphasis: nothing is left once cleaned.
    app.mistral
        .configure(|c| c.reply = Some("** \"\" **".into()));
    let r = accepted(&app, &t, "/api/chat", json!({"text": "first line\nsecond"})).await;
    let tid = id_in(&r, "thread");
    assert_eq!(r["thread"]["name"], "first line");
    let a = id_in(&r, "assistantMessage");
    wait_title_request(&app, &t, &a, &tid).await;
    assert_eq!(thread_name(&app, &t, &tid).await, "first line");
}

/// The thread page is rendered on the server's worker threads; nothing in it
/// may be tied to the thread that started the render (a browser-only value
/// dropped on another worker panicked in the response stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_thread_page_renders_on_any_worker_thread() {
    // Panics inside a response stream do not reach the client as an error:
    // count the ones about values dropped on the wrong thread.
    static WRONG_THREAD_DROPS: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("SendWrapper") {
            WRONG_THREAD_DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        previous(info)
    }));
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "ssr@example.com").await;
    let r = accepted(&app, &t, "/api/chat", json!({"text": "Render me"})).await;
    let tid = id_in(&r, "thread");
    let a = id_in(&r, "assistantMessage");
    wait_status(&app, &a, "streaming").await;
    // Also while an answer is being written (the page subscribes to it).
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(40));
    accepted(
        &app,
        &t,
        "/api/chat",
        json!({"threadId": tid, "text": "And again"}),
    )
    .await;
    let pages = futures::future::join_all((0..24).map(|_| {
        let (app, t, tid) = (&app, &t, &tid);
        async move {
            let resp = app
                .http
                .get(app.url(&format!("/t/{tid}")))
                .header("cookie", format!("access_token={t}"))
                .send()
                .await
                .expect("request");
            let status = resp.status().as_u16();
            (status, resp.text().await.map_err(|e| e.to_string()))
        }
    }))
    .await;
    for (status, body) in pages {
        assert_eq!(status, 200);
        let body = body.expect("the whole page arrives");
        assert!(body.contains("Render me"), "{body}");
    }
    // Barrier, not a sleep: once the server has shut down, every
    // connection task and whatever its render held has been dropped.
    app.shutdown().await;
    assert_eq!(
        WRONG_THREAD_DROPS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a render dropped a thread-local value on another thread"
    );
}
