//! Voice (issue 16): what a person says becomes text (Mistral's
//! transcription, with their own key), answers are read aloud (Mistral's
//! speech with their key, or the operator's TTS provider when
//! `TTS_API_BASE` is set), and the voices they can choose from.
//!
//! Owns the rules: a recording's type comes from its bytes (magic numbers,
//! never the client's claim) and its size is capped while it arrives
//! ([`RecordingIn`]); text to speak is bounded (`MAX_TTS_CHARS`); language
//! codes and voice ids are parsed into [`LanguageCode`] and [`VoiceId`];
//! the key is the caller's own, found the way chat finds it
//! ([`settings::pick_key`]: their key, else the operator's when allowed —
//! never another user's), and the saved voice and language fill in what a
//! request leaves out. Speech is returned as a stream that passes audio on
//! as it arrives. It must not log keys, recordings or text.
use super::settings;
use super::uploads::megabytes;
use crate::model::{SpeechProvider, TranscriptionDto, TtsValidationDto, VoiceDto};
use crate::server::config::Secret;
use crate::server::entities::user_settings;
use crate::server::mistral::audio::{AudioFormat, Recording, SpeechRequest, PCM_SAMPLE_RATE};
use crate::server::mistral::MistralError;
use crate::server::tts::TtsProvider;
use crate::server::{AppError, AppResult, AppState};
use crate::vocab::UserId;
use futures::{Stream, StreamExt};
use std::pin::Pin;

/// What the 415 sentence lists.
pub const ACCEPTED_AUDIO: &str = "WebM/Opus, Ogg, WAV, MP3 or M4A";
/// The language the reference provider reads in when nobody said (the
/// reference project's default).
pub const DEFAULT_TTS_LANG: &str = "fr";
/// Longest voice id kept (Mistral's are UUIDs or short slugs).
pub const MAX_VOICE_ID_CHARS: usize = 100;

/// A two-letter language code (`en`, `fr`), lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// `Ok(None)` for a blank value; the error is a sentence without the
    /// field name.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Ok(Some(Self(s.to_ascii_lowercase())));
        }
        Err("use a two-letter language code such as en or fr".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A voice id: 1 to [`MAX_VOICE_ID_CHARS`] characters, no spaces or controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceId(String);

impl VoiceId {
    /// `Ok(None)` for a blank value.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > MAX_VOICE_ID_CHARS
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "use a voice id from the voice list (at most {MAX_VOICE_ID_CHARS} characters, no spaces)"
            ));
        }
        Ok(Some(Self(s.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An audio type the transcription takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioType {
    pub mime: &'static str,
    /// The extension of the file name Mistral gets.
    pub extension: &'static str,
}

/// The type of a recording from its first bytes: WebM (EBML with the
/// `webm` doctype), Ogg, WAV (RIFF/WAVE), MP3 (an ID3 tag or an MPEG audio
/// frame header of layer I–III), M4A (an ISO media `ftyp` box of an audio
/// or generic MP4 brand). `None` for anything else.
pub fn sniff_audio(bytes: &[u8]) -> Option<AudioType> {
    let t = |mime, extension| Some(AudioType { mime, extension });
    let head = &bytes[..bytes.len().min(64)];
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // Matroska is the same container; browsers record WebM.
        return if head.windows(4).any(|w| w == b"webm") {
            t("audio/webm", "webm")
        } else {
            None
        };
    }
    if bytes.starts_with(b"OggS") {
        return t("audio/ogg", "ogg");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        return t("audio/wav", "wav");
    }
    if bytes.starts_with(b"ID3") {
        return t("audio/mpeg", "mp3");
    }
    // An MPEG audio frame: 11 sync bits, a version that is not the reserved
    // 01, a layer that is not 00 (00 is AAC's ADTS, which this is not).
    if bytes.len() >= 4 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
        let version = (bytes[1] >> 3) & 0b11;
        let layer = (bytes[1] >> 1) & 0b11;
        let bitrate = bytes[2] >> 4;
        if version != 0b01 && layer != 0b00 && bitrate != 0b1111 {
            return t("audio/mpeg", "mp3");
        }
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        const BRANDS: [&[u8; 4]; 10] = [
            b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso4", b"iso5", b"iso6",
            b"dash",
        ];
        if BRANDS.iter().any(|b| &bytes[8..12] == *b) {
            return t("audio/mp4", "m4a");
        }
    }
    None
}

/// A recording arriving in pieces, refused as soon as it passes the limit.
pub struct RecordingIn {
    buf: Vec<u8>,
    limit: u64,
}

impl RecordingIn {
    pub fn new(limit: u64) -> Self {
        Self { buf: vec![], limit }
    }

    /// Takes the next piece; 413 naming the limit once the recording passes it.
    pub fn push(&mut self, piece: &[u8]) -> AppResult<()> {
        if (self.buf.len() + piece.len()) as u64 > self.limit {
            return Err(AppError::PayloadTooLarge(format!(
                "That recording is larger than the {} limit",
                megabytes(self.limit)
            )));
        }
        self.buf.extend_from_slice(piece);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// The caller's key, as chat picks it; a spent daily budget on the
/// operator's key refuses voice too (it is not charged: the budget counts
/// answers).
async fn caller_key(
    state: &AppState,
    user_id: &UserId,
) -> AppResult<(Secret, Option<user_settings::Model>)> {
    let row = settings::row(state, user_id).await?;
    let picked = settings::pick_key(state, user_id, row.as_ref()).await?;
    settings::check_budget(state, user_id, &picked).await?;
    Ok((picked.key, row))
}

/// `POST /api/transcribe`: the text of a recording. `language` (two
/// letters) defaults to the user's saved voice language, else Mistral
/// detects it.
pub async fn transcribe(
    state: &AppState,
    user_id: &UserId,
    audio: Vec<u8>,
    language: Option<&str>,
) -> AppResult<TranscriptionDto> {
    if audio.is_empty() {
        return Err(AppError::bad_request("file: the recording is empty"));
    }
    let Some(kind) = sniff_audio(&audio) else {
        return Err(AppError::UnsupportedType(format!(
            "This recording's type is not supported — send {ACCEPTED_AUDIO}"
        )));
    };
    let asked = match language {
        Some(l) => {
            LanguageCode::parse(l).map_err(|e| AppError::bad_request(format!("language: {e}")))?
        }
        None => None,
    };
    let (key, row) = caller_key(state, user_id).await?;
    let language = asked.or_else(|| {
        row.and_then(|r| r.voice_language)
            .and_then(|l| LanguageCode::parse(&l).ok().flatten())
    });
    let file_name = format!("audio.{}", kind.extension);
    let heard = state
        .mistral
        .transcribe(
            &key,
            &state.config.transcribe_model,
            language.as_ref().map(LanguageCode::as_str),
            Recording {
                bytes: &audio,
                mime: kind.mime,
                file_name: &file_name,
            },
        )
        .await?;
    Ok(TranscriptionDto {
        text: heard.text.trim().to_string(),
        language: heard
            .language
            .filter(|l| !l.trim().is_empty())
            .or_else(|| language.map(LanguageCode::into_string)),
    })
}

/// What `POST /api/tts` was asked (raw; checked by [`speak`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SpeechAsk<'a> {
    pub text: &'a str,
    pub lang: Option<&'a str>,
    pub voice: Option<&'a str>,
    pub format: Option<&'a str>,
}

/// Audio as it arrives. An `Err` ends it: the client's response then breaks
/// off instead of ending as if the audio were complete.
pub type AudioStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, std::io::Error>> + Send>>;

/// Spoken audio on its way.
pub struct Speech {
    pub provider: SpeechProvider,
    /// The response's `Content-Type`.
    pub mime: &'static str,
    /// Samples per second, for raw `pcm`.
    pub sample_rate: Option<u32>,
    pub audio: AudioStream,
}

/// The sentence of a speech failure: Mistral's 403 on speech is its
/// moderation refusing the text (the user's text, so a 422 that says so);
/// everything else as for any Mistral call.
fn speech_error(e: MistralError) -> AppError {
    match e {
        MistralError::Rejected {
            status: 403,
            message,
        } => {
            tracing::info!("mistral declined to speak a text (403)");
            AppError::Unprocessable(format!(
                "Mistral declined to read this text aloud (moderation): {message}"
            ))
        }
        MistralError::Interrupted { detail } => {
            tracing::warn!(%detail, "mistral speech broke off before any audio");
            AppError::Upstream("Mistral stopped before any audio came — please try again".into())
        }
        other => other.into(),
    }
}

/// Waits for the first piece, so a failure before any audio is an error
/// with its status rather than a broken 200; then passes the rest on.
async fn started<S, E>(stream: S, what: &'static str) -> Result<AudioStream, E>
where
    S: Stream<Item = Result<Vec<u8>, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut stream = Box::pin(stream);
    let first = match stream.next().await {
        None => return Ok(Box::pin(futures::stream::empty())),
        Some(Err(e)) => return Err(e),
        Some(Ok(bytes)) => bytes,
    };
    let rest = stream.map(move |item| {
        item.map_err(|e| {
            tracing::warn!(error = %e, what, "speech broke off");
            std::io::Error::other("the audio broke off")
        })
    });
    Ok(Box::pin(futures::stream::iter([Ok(first)]).chain(rest)))
}

/// `POST /api/tts`: `text` read aloud. Through the operator's provider when
/// configured (MP3 only; `lang`, else the saved language, else
/// [`DEFAULT_TTS_LANG`]), else through Mistral with the caller's key
/// (`voice`, else the saved voice; `format` mp3, wav, opus or pcm).
pub async fn speak(state: &AppState, user_id: &UserId, ask: SpeechAsk<'_>) -> AppResult<Speech> {
    let text: String = ask.text.replace('\0', "");
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::bad_request("text: write something to read aloud"));
    }
    let max = state.config.max_tts_chars;
    let count = text.chars().count();
    if count > max {
        return Err(AppError::PayloadTooLarge(format!(
            "text: at most {max} characters can be read aloud at once (this one has {count})"
        )));
    }
    let format = match ask.format.map(str::trim).filter(|f| !f.is_empty()) {
        None => AudioFormat::Mp3,
        Some(f) => AudioFormat::parse(f)
            .ok_or_else(|| AppError::bad_request("format: use mp3, wav, opus or pcm"))?,
    };
    let lang = ask
        .lang
        .map(LanguageCode::parse)
        .transpose()
        .map_err(|e| AppError::bad_request(format!("lang: {e}")))?
        .flatten();
    let voice = ask
        .voice
        .map(VoiceId::parse)
        .transpose()
        .map_err(|e| AppError::bad_request(format!("voice: {e}")))?
        .flatten();

    if let Some(provider) = TtsProvider::configured(&state.config, &state.http) {
        if format != AudioFormat::Mp3 {
            return Err(AppError::bad_request(
                "format: this server's text-to-speech provider makes mp3 only",
            ));
        }
        let lang = match lang {
            Some(l) => l.into_string(),
            None => settings::row(state, user_id)
                .await?
                .and_then(|r| r.voice_language)
                .unwrap_or_else(|| DEFAULT_TTS_LANG.to_string()),
        };
        let audio = provider.generate(text, &lang).await?;
        return Ok(Speech {
            provider: SpeechProvider::Tts,
            mime: AudioFormat::Mp3.mime(),
            sample_rate: None,
            audio: started(audio, "tts provider").await?,
        });
    }

    let (key, row) = caller_key(state, user_id).await?;
    let voice_id = voice
        .map(VoiceId::into_string)
        .or_else(|| row.and_then(|r| r.voice_id));
    let req = SpeechRequest {
        model: state.config.tts_model.clone(),
        input: text.to_string(),
        voice_id,
        response_format: format,
        stream: true,
    };
    let audio = state
        .mistral
        .speech_stream(&key, &req)
        .await
        .map_err(speech_error)?;
    Ok(Speech {
        provider: SpeechProvider::Mistral,
        mime: format.mime(),
        sample_rate: (format == AudioFormat::Pcm).then_some(PCM_SAMPLE_RATE),
        audio: started(audio, "mistral").await.map_err(speech_error)?,
    })
}

/// `POST /api/tts` with `validate`: whether the provider accepts the key
/// speech would use. No key at all is `ok: false`, not an error.
pub async fn validate(state: &AppState, user_id: &UserId) -> AppResult<TtsValidationDto> {
    if let Some(provider) = TtsProvider::configured(&state.config, &state.http) {
        return Ok(TtsValidationDto {
            ok: provider.validate().await?,
            provider: SpeechProvider::Tts,
        });
    }
    let row = settings::row(state, user_id).await?;
    let ok = match settings::pick_key(state, user_id, row.as_ref()).await {
        Err(_) => false,
        Ok(picked) => state.mistral.audio_key_accepted(&picked.key).await?,
    };
    Ok(TtsValidationDto {
        ok,
        provider: SpeechProvider::Mistral,
    })
}

/// `GET /api/voices`: the voices the caller's key offers (none with the
/// operator's provider, which takes a language instead).
pub async fn voices(state: &AppState, user_id: &UserId) -> AppResult<Vec<VoiceDto>> {
    if TtsProvider::configured(&state.config, &state.http).is_some() {
        return Ok(vec![]);
    }
    let (key, _) = caller_key(state, user_id).await?;
    let voices = state.mistral.list_voices(&key).await?;
    Ok(voices
        .into_iter()
        .map(|v| VoiceDto {
            name: v
                .name
                .filter(|n| !n.trim().is_empty())
                .or(v.slug)
                .unwrap_or_else(|| v.id.clone()),
            id: v.id,
            languages: v.languages.unwrap_or_default(),
            gender: v.gender,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_types_come_from_magic_numbers() {
        let kind = |b: &[u8]| sniff_audio(b).map(|t| t.mime);
        let mut webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01];
        webm.extend_from_slice(b"\x42\x82\x84webm\x42\x87");
        assert_eq!(kind(&webm), Some("audio/webm"));
        let mut mkv = webm.clone();
        let at = mkv.windows(4).position(|w| w == b"webm").unwrap();
        mkv[at..at + 4].copy_from_slice(b"mkvx");
        assert_eq!(kind(&mkv), None);
        assert_eq!(kind(b"OggS\0\x02rest"), Some("audio/ogg"));
        assert_eq!(kind(b"RIFF\x24\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(kind(b"RIFF\x24\0\0\0WEBPVP8 "), None);
        assert_eq!(kind(b"ID3\x04\0\0\0\0\0\0"), Some("audio/mpeg"));
        assert_eq!(kind(&[0xFF, 0xFB, 0x90, 0xC0]), Some("audio/mpeg"));
        assert_eq!(kind(&[0xFF, 0xF3, 0x64, 0xC4]), Some("audio/mpeg"));
        // AAC in ADTS (layer 00) and a reserved version are not MP3.
        assert_eq!(kind(&[0xFF, 0xF1, 0x50, 0x80]), None);
        assert_eq!(kind(&[0xFF, 0xEB, 0x90, 0xC0]), None);
        assert_eq!(kind(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some("audio/mp4"));
        assert_eq!(kind(b"\0\0\0\x20ftypqt  \0\0\0\0"), None);
        for other in [
            &b"\x89PNG\r\n\x1a\n"[..],
            b"%PDF-1.7",
            b"hello",
            b"",
            b"\xFF",
        ] {
            assert_eq!(kind(other), None, "{other:?}");
        }
    }

    #[test]
    fn languages_and_voices_parse() {
        assert_eq!(LanguageCode::parse(" FR ").unwrap().unwrap().as_str(), "fr");
        assert_eq!(LanguageCode::parse("  ").unwrap(), None);
        for bad in ["fra", "f", "e1", "é", "en-US"] {
            assert!(LanguageCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            VoiceId::parse(" voice_592 ").unwrap().unwrap().as_str(),
            "voice_592"
        );
        assert_eq!(VoiceId::parse("").unwrap(), None);
        assert!(VoiceId::parse("two words").is_err());
        assert!(VoiceId::parse(&"v".repeat(101)).is_err());
    }

    #[test]
    fn a_recording_is_refused_once_past_the_limit() {
        let mut r = RecordingIn::new(10);
        r.push(b"12345").unwrap();
        r.push(b"67890").unwrap();
        let e = r.push(b"x").unwrap_err();
        assert_eq!(e.status().as_u16(), 413);
        assert_eq!(r.into_bytes(), b"1234567890");
    }
}
