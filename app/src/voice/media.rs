//! The browser's side of voice: the microphone (with the echo canceller,
//! noise suppression and gain control asked for), its level, recordings,
//! a camera frame, and playback of spoken audio. Every failure comes back as
//! a sentence for the person, never a browser error text.
use js_sys::{Array, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, Blob, BlobEvent, BlobPropertyBag, FormData, HtmlAudioElement,
    HtmlCanvasElement, HtmlVideoElement, MediaRecorder, MediaRecorderOptions, MediaStream,
    MediaStreamTrack,
};

const UNREACHABLE: &str = "Can't reach the server — check your connection and try again";

/// Milliseconds on the page's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The sentence for a refused `getUserMedia`.
fn media_error(e: &JsValue, camera: bool) -> String {
    let name = Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    let device = if camera { "camera" } else { "microphone" };
    match name.as_str() {
        "NotAllowedError" | "SecurityError" => format!(
            "Access to the {device} was denied. Allow it for this site in your browser's settings (the icon left of the address), then try again."
        ),
        "NotFoundError" | "OverconstrainedError" => {
            format!("No {device} was found. Connect one and try again.")
        }
        "NotReadableError" | "AbortError" => format!(
            "The {device} could not be started — another app may be using it. Close it and try again."
        ),
        _ => format!("The {device} could not be opened. Check your browser's settings and try again."),
    }
}

/// `getUserMedia`: the microphone (echo cancellation, noise suppression
/// and gain control asked for), or the front camera alone.
pub async fn user_media(camera: bool) -> Result<MediaStream, String> {
    let w = web_sys::window().ok_or("No browser window")?;
    let device = if camera { "camera" } else { "microphone" };
    if !w.is_secure_context() {
        return Err(format!("The {device} needs a secure connection: open MistralChat over https (or on localhost)."));
    }
    let devices = w
        .navigator()
        .media_devices()
        .ok()
        .filter(|d| !JsValue::from(d.clone()).is_undefined())
        .ok_or_else(|| format!("This browser cannot use the {device}. Try a current Chrome, Edge, Firefox or Safari."))?;
    let constraints = Object::new();
    if camera {
        let video = Object::new();
        set(&video, "facingMode", &JsValue::from_str("user"));
        set(&video, "width", &JsValue::from_f64(640.0));
        set(&constraints, "video", &video);
    } else {
        let audio = Object::new();
        for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
            set(&audio, key, &JsValue::TRUE);
        }
        set(&constraints, "audio", &audio);
    }
    let promise = devices
        .get_user_media_with_constraints(constraints.unchecked_ref())
        .map_err(|e| media_error(&e, camera))?;
    Ok(JsFuture::from(promise)
        .await
        .map_err(|e| media_error(&e, camera))?
        .unchecked_into())
}

/// Stops every track of `stream` (the browser's indicator goes off).
pub fn stop_stream(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(p).await;
}

/// Whether the person has interacted with the page (sound may start).
pub fn page_was_activated() -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    let ua = Reflect::get(&w.navigator(), &JsValue::from_str("userActivation"))
        .unwrap_or(JsValue::UNDEFINED);
    if ua.is_undefined() {
        return true;
    }
    Reflect::get(&ua, &JsValue::from_str("hasBeenActive"))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// The microphone, with a level meter.
pub struct Mic {
    pub stream: MediaStream,
    ctx: AudioContext,
    analyser: AnalyserNode,
    samples: RefCell<Vec<f32>>,
}

impl Mic {
    /// Asks for the microphone.
    pub async fn open() -> Result<Mic, String> {
        let stream = user_media(false).await?;
        let ctx = AudioContext::new().map_err(|_| "Audio is not available in this browser.")?;
        let source = ctx
            .create_media_stream_source(&stream)
            .map_err(|_| "The microphone could not be read.")?;
        let analyser = ctx
            .create_analyser()
            .map_err(|_| "The microphone could not be read.")?;
        analyser.set_fft_size(1024);
        let _ = source.connect_with_audio_node(&analyser);
        // Started from a click, the context runs; after a reload it may wait
        // for one (the call view then shows "Resume").
        let _ = ctx.resume();
        Ok(Mic {
            stream,
            ctx,
            analyser,
            samples: RefCell::new(vec![0.0; 1024]),
        })
    }

    /// The level now, in dBFS.
    pub fn level_db(&self) -> f32 {
        let mut buf = self.samples.borrow_mut();
        self.analyser.get_float_time_domain_data(&mut buf);
        super::vad::level_db(&buf)
    }

    /// Whether the audio context runs (it may wait for a tap after a reload).
    pub fn running(&self) -> bool {
        self.ctx.state() == web_sys::AudioContextState::Running
    }

    pub async fn resume(&self) {
        if let Ok(p) = self.ctx.resume() {
            let _ = JsFuture::from(p).await;
        }
    }

    /// Mutes (or unmutes) the microphone itself, not just the detector.
    pub fn set_muted(&self, muted: bool) {
        for t in self.stream.get_audio_tracks().iter() {
            t.unchecked_into::<MediaStreamTrack>().set_enabled(!muted);
        }
    }

    /// The microphone's audio alone (what is recorded).
    fn audio_only(&self) -> MediaStream {
        let tracks = Array::new();
        for t in self.stream.get_audio_tracks().iter() {
            tracks.push(&t);
        }
        MediaStream::new_with_tracks(&tracks).unwrap_or_else(|_| self.stream.clone())
    }

    /// Releases the microphone (the browser's recording indicator goes off).
    pub fn close(&self) {
        stop_stream(&self.stream);
        let _ = self.ctx.close();
    }
}

/// A recording in progress.
pub struct Recorder {
    rec: MediaRecorder,
    chunks: Rc<RefCell<Vec<JsValue>>>,
    mime: String,
    _on_data: Closure<dyn FnMut(BlobEvent)>,
}

/// The type the browser records in: WebM/Opus (Chrome, Firefox), Ogg, else
/// MP4/AAC (Safari).
fn recording_type() -> String {
    [
        "audio/webm;codecs=opus",
        "audio/webm",
        "audio/ogg;codecs=opus",
        "audio/mp4",
    ]
    .into_iter()
    .find(|t| MediaRecorder::is_type_supported(t))
    .unwrap_or("")
    .to_string()
}

impl Recorder {
    /// Starts recording the microphone of `mic`.
    pub fn start(mic: &Mic) -> Result<Recorder, String> {
        let mime = recording_type();
        let opts = MediaRecorderOptions::new();
        if !mime.is_empty() {
            opts.set_mime_type(&mime);
        }
        let rec = MediaRecorder::new_with_media_stream_and_media_recorder_options(
            &mic.audio_only(),
            &opts,
        )
        .map_err(|_| "This browser cannot record audio.".to_string())?;
        let chunks = Rc::new(RefCell::new(vec![]));
        let sink = chunks.clone();
        let on_data = Closure::<dyn FnMut(BlobEvent)>::new(move |ev: BlobEvent| {
            if let Some(b) = ev.data() {
                if b.size() > 0.0 {
                    sink.borrow_mut().push(b.into());
                }
            }
        });
        rec.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
        rec.start_with_time_slice(1000)
            .map_err(|_| "The recording could not start.".to_string())?;
        let mime = if mime.is_empty() {
            rec.mime_type()
        } else {
            mime
        };
        Ok(Recorder {
            rec,
            chunks,
            mime,
            _on_data: on_data,
        })
    }

    /// Stops and gives the recording (`None` if nothing was recorded).
    pub async fn finish(self) -> Option<Blob> {
        let stopped = js_sys::Promise::new(&mut |resolve, _| {
            let _ = self.rec.add_event_listener_with_callback("stop", &resolve);
        });
        if self.rec.state() != web_sys::RecordingState::Inactive {
            let _ = self.rec.stop();
            let _ = JsFuture::from(stopped).await;
        }
        let parts = Array::new();
        for c in self.chunks.borrow().iter() {
            parts.push(c);
        }
        if parts.length() == 0 {
            return None;
        }
        let bag = BlobPropertyBag::new();
        bag.set_type(self.mime.split(';').next().unwrap_or(""));
        Blob::new_with_blob_sequence_and_options(&parts, &bag).ok()
    }

    /// Throws the recording away.
    pub fn cancel(self) {
        if self.rec.state() != web_sys::RecordingState::Inactive {
            let _ = self.rec.stop();
        }
    }
}

/// The file name a recording of `blob`'s type is sent under.
fn file_name(blob: &Blob) -> &'static str {
    let t = blob.type_();
    if t.contains("ogg") {
        "speech.ogg"
    } else if t.contains("mp4") || t.contains("aac") {
        "speech.m4a"
    } else {
        "speech.webm"
    }
}

/// The API's `{"error"}` sentence, or one made from the status.
fn api_sentence(status: u16, body: &str) -> String {
    crate::client::api_error_sentence(status, body)
}

/// `POST /api/transcribe`: the text of a recording.
pub async fn transcribe(recording: &Blob) -> Result<String, String> {
    crate::client::ensure_session().await?;
    let form = FormData::new().map_err(|_| "The recording could not be sent.".to_string())?;
    form.append_with_blob_and_filename("file", recording, file_name(recording))
        .map_err(|_| "The recording could not be sent.".to_string())?;
    let resp = gloo_net::http::Request::post("/api/transcribe")
        .body(JsValue::from(form))
        .map_err(|_| "The recording could not be sent.".to_string())?
        .send()
        .await
        .map_err(|_| UNREACHABLE.to_string())?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !resp.ok() {
        return Err(api_sentence(status, &body));
    }
    let v = js_sys::JSON::parse(&body).unwrap_or(JsValue::UNDEFINED);
    Ok(Reflect::get(&v, &JsValue::from_str("text"))
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default())
}

/// Uploads a camera frame as an attachment (`POST /api/files`); its id.
pub async fn upload_frame(jpeg: &Blob) -> Result<String, String> {
    let name = format!("camera-{}.jpg", now_ms() as u64);
    let bag = web_sys::FilePropertyBag::new();
    bag.set_type("image/jpeg");
    let parts = Array::new();
    parts.push(jpeg);
    let file = web_sys::File::new_with_blob_sequence_and_options(&parts, &name, &bag)
        .map_err(|_| "The camera picture could not be sent.".to_string())?;
    let file: crate::client::files::File = JsValue::from(file).unchecked_into();
    crate::client::files::upload("/api/files", &file, |_| {}, |_, _| {})
        .await
        .map(|f| f.id)
}

/// `POST /api/tts`: `text` spoken in the saved voice, as MP3.
pub async fn speech(text: &str) -> Result<Blob, String> {
    crate::client::ensure_session().await?;
    let body = Object::new();
    set(&body, "text", &JsValue::from_str(text));
    set(&body, "format", &JsValue::from_str("mp3"));
    let json = js_sys::JSON::stringify(&body)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let resp = gloo_net::http::Request::post("/api/tts")
        .header("content-type", "application/json")
        .body(json)
        .map_err(|_| "The text could not be sent.".to_string())?
        .send()
        .await
        .map_err(|_| UNREACHABLE.to_string())?;
    let status = resp.status();
    if !resp.ok() {
        let body = resp.text().await.unwrap_or_default();
        return Err(api_sentence(status, &body));
    }
    let bytes = resp.binary().await.map_err(|_| UNREACHABLE.to_string())?;
    let parts = Array::new();
    parts.push(&js_sys::Uint8Array::from(&bytes[..]));
    let bag = BlobPropertyBag::new();
    bag.set_type("audio/mpeg");
    Blob::new_with_u8_array_sequence_and_options(&parts, &bag)
        .map_err(|_| "The audio could not be played.".to_string())
}

/// One audio element that plays spoken sentences one after another;
/// [`Player::stop`] silences it at once.
#[derive(Clone)]
pub struct Player {
    audio: HtmlAudioElement,
}

impl Player {
    pub fn new() -> Option<Player> {
        let audio = HtmlAudioElement::new().ok()?;
        Some(Player { audio })
    }

    /// Plays `blob` at `rate` (the saved speed) until it ends, fails or is
    /// stopped. `started` runs when the sound starts.
    ///
    /// Not generic (`started` is boxed): one copy, in the main module, also
    /// for the lazily loaded Voice settings page.
    pub async fn play(
        &self,
        blob: &Blob,
        rate: f64,
        started: Box<dyn FnOnce()>,
    ) -> Result<(), String> {
        let url = web_sys::Url::create_object_url_with_blob(blob)
            .map_err(|_| "The audio could not be played.".to_string())?;
        self.audio.set_src(&url);
        self.audio.set_playback_rate(rate);
        let result = match self.audio.play() {
            Ok(p) => match JsFuture::from(p).await {
                Ok(_) => {
                    started();
                    // Handlers, not listeners: each sentence replaces the
                    // last one's. Set once it plays: the `emptied` that a
                    // new source queues has fired by then.
                    let over = js_sys::Promise::new(&mut |resolve, _| {
                        self.audio.set_onended(Some(&resolve));
                        self.audio.set_onerror(Some(&resolve));
                        self.audio.set_onemptied(Some(&resolve));
                    });
                    if !self.audio.ended() && !self.audio.paused() {
                        let _ = JsFuture::from(over).await;
                    }
                    Ok(())
                }
                // Stopped before it started.
                Err(_) if self.audio.get_attribute("src").is_none() => Ok(()),
                Err(_) => Err(
                    "The browser did not let the page play sound — tap the page, then try again."
                        .to_string(),
                ),
            },
            Err(_) => Err("The audio could not be played.".to_string()),
        };
        let _ = web_sys::Url::revoke_object_url(&url);
        result
    }

    /// Stops what is playing (the pending [`Player::play`] returns).
    pub fn stop(&self) {
        let _ = self.audio.pause();
        self.audio.remove_attribute("src").ok();
        self.audio.load();
    }

    pub fn playing(&self) -> bool {
        !self.audio.paused() && !self.audio.ended()
    }
}

/// Shows a camera stream in `video` (muted, inline: a preview).
pub fn preview(video: &HtmlVideoElement, stream: &MediaStream) {
    video.set_muted(true);
    let _ = video.set_attribute("playsinline", "");
    video.set_src_object(Some(stream));
    // The promise settles when it plays; nothing waits for it.
    let _ = video.play();
}

/// The frame `video` shows now, as a JPEG.
pub async fn frame(video: &HtmlVideoElement) -> Option<Blob> {
    let (w, h) = (video.video_width(), video.video_height());
    if w == 0 || h == 0 {
        return None;
    }
    let canvas: HtmlCanvasElement = web_sys::window()?
        .document()?
        .create_element("canvas")
        .ok()?
        .unchecked_into();
    canvas.set_width(w);
    canvas.set_height(h);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.unchecked_into();
    ctx.draw_image_with_html_video_element(video, 0.0, 0.0)
        .ok()?;
    let got: Rc<RefCell<Option<Blob>>> = Rc::new(RefCell::new(None));
    let sink = got.clone();
    let done = js_sys::Promise::new(&mut |resolve, _| {
        let sink = sink.clone();
        let cb = Closure::once_into_js(move |b: JsValue| {
            *sink.borrow_mut() = b.dyn_into::<Blob>().ok();
            let _ = resolve.call0(&JsValue::NULL);
        });
        let _ = canvas.to_blob_with_type_and_encoder_options(
            cb.unchecked_ref(),
            "image/jpeg",
            &JsValue::from_f64(0.85),
        );
    });
    let _ = JsFuture::from(done).await;
    let b = got.borrow_mut().take();
    b
}

/// Calls `f` whenever the page is hidden (`true`) or shown again (`false`);
/// the listener lives as long as the returned value.
pub fn on_visibility(f: impl Fn(bool) + 'static) -> Option<VisibilityListener> {
    let doc = web_sys::window()?.document()?;
    let d = doc.clone();
    let cb = Closure::<dyn Fn()>::new(move || f(d.hidden()));
    doc.add_event_listener_with_callback("visibilitychange", cb.as_ref().unchecked_ref())
        .ok()?;
    Some(VisibilityListener { doc, cb })
}

pub struct VisibilityListener {
    doc: web_sys::Document,
    cb: Closure<dyn Fn()>,
}

impl Drop for VisibilityListener {
    fn drop(&mut self) {
        let _ = self.doc.remove_event_listener_with_callback(
            "visibilitychange",
            self.cb.as_ref().unchecked_ref(),
        );
    }
}
