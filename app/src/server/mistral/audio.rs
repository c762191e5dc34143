//! Mistral's audio endpoints (`/work/shared/mistral-api.md` §7):
//! transcription (`POST /v1/audio/transcriptions`, multipart), speech
//! (`POST /v1/audio/speech` with `stream: true`, an SSE stream of base64
//! audio fragments) and the voice list (`GET /v1/audio/voices`).
//!
//! Same transport policy as `client.rs`, whose helpers it uses: bearer key,
//! bounded retries before a response is accepted, error bodies bounded and
//! mapped by [`MistralError::from_status`], JSON bodies read with a cap, the
//! speech stream parsed by the shared SSE decoder (bounded events, idle
//! deadline, one `Interrupted` for a broken or truncated stream). It must
//! not know which key belongs to whom, must not log keys, recordings or
//! text, and must not buffer a whole spoken answer: speech is yielded
//! fragment by fragment as Mistral sends it.
use super::client::{
    check_status, decode_events, describe, read_json, require_key, Decoder, Failure,
};
use super::errors::{error_message, MistralError};
use super::sse::SseEvent;
use super::MistralClient;
use crate::server::config::Secret;
use base64::Engine as _;
use futures::Stream;
use reqwest::header::ACCEPT;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// Longest wait for one transcription (a long recording takes a while).
pub const TRANSCRIBE_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest transcription answer read (text of a long recording, segments).
pub const MAX_TRANSCRIPTION_BYTES: usize = 8 * 1024 * 1024;
/// Voices asked for in one page; the product shows them all in one list.
pub const VOICES_PAGE: u32 = 100;

/// `response_format` of a speech request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    Mp3,
    Wav,
    Opus,
    /// Raw float32 little-endian samples, mono.
    Pcm,
}

impl AudioFormat {
    /// From a client's `format` (`None` for a name not offered).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "mp3" => Some(Self::Mp3),
            "wav" => Some(Self::Wav),
            "opus" => Some(Self::Opus),
            "pcm" => Some(Self::Pcm),
            _ => None,
        }
    }

    /// The `Content-Type` the audio is served with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Wav => "audio/wav",
            // Mistral's opus is Ogg-encapsulated.
            Self::Opus => "audio/ogg",
            Self::Pcm => "audio/pcm",
        }
    }
}

/// The sample rate of `pcm` speech. Mistral's own documentation and
/// OpenAPI document name no rate for `pcm`; 24 kHz is what integrations of
/// Voxtral TTS describe as its native rate (e.g. Pipecat's Mistral TTS
/// service), and the default this product assumes.
pub const PCM_SAMPLE_RATE: u32 = 24_000;

/// `SpeechRequest` as this product sends it (the spec has no speed or
/// language field: a voice speaks its own language).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpeechRequest {
    pub model: String,
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    pub response_format: AudioFormat,
    /// Always true here: fragments are passed on as they come.
    pub stream: bool,
}

/// `TranscriptionResponse` (only what the product reads; the rest —
/// segments, usage — is ignored).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Transcription {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// A recording to transcribe: its bytes and the type sniffed from them.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    pub bytes: &'a [u8],
    pub mime: &'static str,
    /// The part's file name (Mistral reads the format from it too).
    pub file_name: &'a str,
}

/// One voice of `GET /v1/audio/voices` (`items[]`; unknown fields ignored).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Voice {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub gender: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct VoicePage {
    #[serde(default)]
    items: Vec<Voice>,
}

impl MistralClient {
    /// `POST /v1/audio/transcriptions` (multipart `file`, `model`, and
    /// `language` when given).
    pub async fn transcribe(
        &self,
        key: &Secret,
        model: &str,
        language: Option<&str>,
        recording: Recording<'_>,
    ) -> Result<Transcription, MistralError> {
        require_key(key)?;
        let url = self.url("/v1/audio/transcriptions");
        let error_body = self.timeouts().error_body;
        self.with_retry_loop("/v1/audio/transcriptions", || {
            let part = reqwest::multipart::Part::bytes(recording.bytes.to_vec())
                .file_name(recording.file_name.to_string())
                .mime_str(recording.mime)
                .unwrap_or_else(|_| {
                    reqwest::multipart::Part::bytes(recording.bytes.to_vec())
                        .file_name(recording.file_name.to_string())
                });
            let mut form = reqwest::multipart::Form::new()
                .part("file", part)
                .text("model", model.to_string());
            if let Some(lang) = language {
                form = form.text("language", lang.to_string());
            }
            let rb = self
                .http
                .post(&url)
                .bearer_auth(key.expose())
                .header(ACCEPT, "application/json")
                .multipart(form)
                .timeout(TRANSCRIBE_TIMEOUT);
            async move {
                let resp = rb.send().await.map_err(|e| Failure::Retry(describe(e)))?;
                let resp = check_status(resp, error_body).await?;
                read_json::<Transcription>(resp, MAX_TRANSCRIPTION_BYTES).await
            }
        })
        .await
    }

    /// `GET /v1/audio/voices?limit=100&offset=0&type=all`: the presets and
    /// the key's own voices (the first page, which holds them all in practice).
    pub async fn list_voices(&self, key: &Secret) -> Result<Vec<Voice>, MistralError> {
        let page: VoicePage = self
            .json_call(
                key,
                reqwest::Method::GET,
                "/v1/audio/voices?limit=100&offset=0&type=all",
                None,
            )
            .await?;
        Ok(page.items)
    }

    /// Whether Mistral lets `key` use the audio API: one voice asked for.
    /// `Ok(false)` for a refusal (401, 403); other failures are errors.
    pub async fn audio_key_accepted(&self, key: &Secret) -> Result<bool, MistralError> {
        let asked: Result<VoicePage, MistralError> = self
            .json_call(
                key,
                reqwest::Method::GET,
                "/v1/audio/voices?limit=1&offset=0&type=all",
                None,
            )
            .await;
        match asked {
            Ok(_) => Ok(true),
            Err(MistralError::Unauthorized | MistralError::Rejected { status: 403, .. }) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/audio/speech` with `stream: true` (forced). Retries happen
    /// only until Mistral accepts the request; the stream then yields each
    /// audio fragment, decoded, as it arrives, and ends after
    /// `speech.audio.done` — or with one `Err(Interrupted)` if the
    /// connection breaks, stalls, carries an error or ends before it.
    pub async fn speech_stream(
        &self,
        key: &Secret,
        req: &SpeechRequest,
    ) -> Result<impl Stream<Item = Result<Vec<u8>, MistralError>> + Send + 'static, MistralError>
    {
        let mut req = req.clone();
        req.stream = true;
        let body = serde_json::to_vec(&req).map_err(|e| MistralError::InvalidResponse {
            detail: format!("request could not be encoded: {e}"),
        })?;
        let resp = self.stream_post(key, "/v1/audio/speech", body).await?;
        Ok(decode_events(
            resp.bytes_stream(),
            self.idle_timeout(),
            SpeechDecoder,
        ))
    }
}

/// The fields of a speech event this client reads.
#[derive(Debug, Deserialize, Default)]
struct SpeechEvent {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    audio_data: Option<String>,
}

/// `speech.audio.delta` → the fragment's bytes; `speech.audio.done` ends
/// the stream; an error object interrupts it; other events are ignored.
struct SpeechDecoder;

impl Decoder for SpeechDecoder {
    type Item = Vec<u8>;

    fn decode(&mut self, ev: SseEvent, out: &mut VecDeque<Result<Vec<u8>, MistralError>>) -> bool {
        let interrupted = |detail: String| Err(MistralError::Interrupted { detail });
        let data: SpeechEvent = match serde_json::from_str(&ev.data) {
            Ok(d) => d,
            Err(e) => {
                out.push_back(interrupted(format!("malformed speech event: {e}")));
                return false;
            }
        };
        // `type` in the data names the event; the `event:` line says the same.
        let kind = data.kind.clone().or(ev.event).unwrap_or_default();
        if kind == "error" || data.object.as_deref() == Some("error") {
            let msg = error_message(&ev.data).unwrap_or_else(|| "error event".into());
            out.push_back(interrupted(format!("error in speech stream: {msg}")));
            return false;
        }
        match kind.as_str() {
            "speech.audio.delta" => {
                let fragment = data.audio_data.unwrap_or_default();
                match base64::engine::general_purpose::STANDARD.decode(fragment.trim()) {
                    Ok(bytes) if bytes.is_empty() => true,
                    Ok(bytes) => {
                        out.push_back(Ok(bytes));
                        true
                    }
                    Err(e) => {
                        out.push_back(interrupted(format!("an audio fragment is not base64: {e}")));
                        false
                    }
                }
            }
            "speech.audio.done" => false,
            _ => true,
        }
    }

    fn at_end(&self) -> Result<Option<Vec<u8>>, String> {
        Err("speech stream ended without speech.audio.done".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn delta(bytes: &[u8]) -> String {
        format!(
            "event: speech.audio.delta\ndata: {{\"type\":\"speech.audio.delta\",\"audio_data\":\"{}\"}}\n\n",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    const DONE: &str = "event: speech.audio.done\ndata: {\"type\":\"speech.audio.done\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9,\"total_tokens\":12}}\n\n";

    async fn run(pieces: Vec<Result<Vec<u8>, String>>) -> Vec<Result<Vec<u8>, MistralError>> {
        decode_events(
            futures::stream::iter(pieces),
            Duration::from_secs(5),
            SpeechDecoder,
        )
        .collect()
        .await
    }

    #[test]
    fn the_request_has_only_spec_fields() {
        let req = SpeechRequest {
            model: "voxtral-mini-tts-latest".into(),
            input: "Hello".into(),
            voice_id: None,
            response_format: AudioFormat::Pcm,
            stream: true,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"model":"voxtral-mini-tts-latest","input":"Hello","response_format":"pcm","stream":true}"#
        );
        assert_eq!(AudioFormat::parse(" MP3 "), Some(AudioFormat::Mp3));
        assert_eq!(AudioFormat::parse("flac"), None);
        assert_eq!(AudioFormat::Opus.mime(), "audio/ogg");
    }

    #[tokio::test]
    async fn fragments_come_out_decoded_split_anywhere() {
        let body = [
            delta(b"RIFF"),
            delta(b""),
            delta(&[0, 1, 2, 255]),
            DONE.into(),
        ]
        .concat();
        // Cut the body into 7-byte pieces: events span reads.
        let pieces: Vec<Result<Vec<u8>, String>> =
            body.as_bytes().chunks(7).map(|c| Ok(c.to_vec())).collect();
        let out = run(pieces).await;
        assert_eq!(out, vec![Ok(b"RIFF".to_vec()), Ok(vec![0, 1, 2, 255])]);
    }

    #[tokio::test]
    async fn broken_truncated_or_failed_streams_are_interrupted() {
        let first = delta(b"abc").into_bytes();
        let out = run(vec![Ok(first.clone())]).await;
        assert_eq!(out[0], Ok(b"abc".to_vec()));
        assert!(
            matches!(&out[1], Err(MistralError::Interrupted { detail }) if detail.contains("speech.audio.done"))
        );
        let out = run(vec![Ok(first.clone()), Err("reset".into())]).await;
        assert!(matches!(out[1], Err(MistralError::Interrupted { .. })));
        let out = run(vec![Ok(
            b"data: {\"object\":\"error\",\"message\":\"moderation\"}\n\n".to_vec(),
        )])
        .await;
        assert!(
            matches!(&out[0], Err(MistralError::Interrupted { detail }) if detail.contains("moderation"))
        );
        let out = run(vec![Ok(
            b"data: {\"type\":\"speech.audio.delta\",\"audio_data\":\"***\"}\n\n".to_vec(),
        )])
        .await;
        assert!(matches!(out[0], Err(MistralError::Interrupted { .. })));
        // Nothing after done is read.
        let out = run(vec![Ok([DONE.to_string(), delta(b"x")]
            .concat()
            .into_bytes())])
        .await;
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn voices_and_transcriptions_read_leniently() {
        let page: VoicePage = serde_json::from_str(
            r#"{"items":[{"id":"v1","name":"Marie","slug":null,"languages":["fr"],"gender":"female","age":null,"tags":null,"created_at":"2026-01-01T00:00:00Z"},{"id":"v2","name":null,"languages":null}],"total":2,"page":1,"page_size":100,"total_pages":1}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            page.items[0].languages.as_deref(),
            Some(&["fr".to_string()][..])
        );
        assert_eq!(page.items[1].gender, None);
        let t: Transcription = serde_json::from_str(
            r#"{"model":"voxtral-mini-latest","text":"Hi","language":null,"segments":[],"usage":{"prompt_audio_seconds":3}}"#,
        )
        .unwrap();
        assert_eq!(t.text, "Hi");
        assert_eq!(t.language, None);
    }
}
