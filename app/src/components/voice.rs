//! Voice in the chat: dictation into the composer, reading an answer aloud,
//! and the voice call.
//!
//! Not lazily loaded yet: this code creates wasm-bindgen closures (the
//! recorder's data handler, the camera frame callback, the detector's
//! timer), and a closure created inside a split chunk breaks the page
//! (leptos-rs/leptos#4347: wasm-bindgen only processes the main module).
//! Moving it to a chunk needs those closures made in the main module first.
use super::composer::SendRequest;
use super::message::UiMessage;
use crate::model::SettingsDto;
use crate::vocab::MessageStatus;
use leptos::prelude::*;

/// `on_cleanup` for teardown that holds browser objects (not `Send`):
/// kept in the component's local storage until the component goes.
#[cfg(feature = "hydrate")]
fn on_cleanup_local(f: impl FnOnce() + 'static) {
    let teardown = StoredValue::new_local(Some(Box::new(f) as Box<dyn FnOnce()>));
    on_cleanup(move || {
        if let Some(f) = teardown.try_update_value(Option::take).flatten() {
            f();
        }
    });
}

// ---------------------------------------------------------------------------
// Dictation
// ---------------------------------------------------------------------------

/// The composer's microphone: records, shows the level and the time, and
/// hands the transcript to `on_text`. Esc cancels.
#[component]
pub fn DictateButton(on_text: Callback<String>, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" class="btn-icon dictate-button" data-testid="dictate" data-action="dictate"
            aria-label="Dictate (Ctrl/⌘ + Alt + D)" title="Dictate — speak and the text is typed for you (Ctrl/⌘ + Alt + D)"
            aria-pressed=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)></button>
        <Show when=move || open.get()>
            {dictation_panel(on_text, Callback::new(move |_| open.set(false)))}
        </Show>
    }
}

fn dictation_panel(on_text: Callback<String>, on_close: Callback<()>) -> AnyView {
    view! { <DictationPanel on_text on_close /> }.into_any()
}

/// "1:05"
fn clock(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Dictation {
    Starting,
    Recording,
    Transcribing,
    Failed,
}

#[component]
fn DictationPanel(on_text: Callback<String>, on_close: Callback<()>) -> impl IntoView {
    let state = RwSignal::new(Dictation::Starting);
    let error = RwSignal::new(Option::<String>::None);
    let level = RwSignal::new(0.0f64);
    let elapsed = RwSignal::new(0.0f64);
    let finish = Trigger::new();
    let cancel = move || on_close.run(());
    #[cfg(not(feature = "hydrate"))]
    let _ = (on_text, finish);

    #[cfg(feature = "hydrate")]
    {
        use crate::voice::media::{self, Mic, Recorder};
        use std::cell::RefCell;
        use std::rc::Rc;
        struct Live {
            mic: Option<Mic>,
            rec: Option<Recorder>,
        }
        let live = Rc::new(RefCell::new(Live {
            mic: None,
            rec: None,
        }));
        let done = Rc::new(std::cell::Cell::new(false));
        {
            let live = live.clone();
            let done = done.clone();
            leptos::task::spawn_local(async move {
                let mic = match Mic::open().await {
                    Ok(m) => m,
                    Err(e) => {
                        error.set(Some(e));
                        state.set(Dictation::Failed);
                        return;
                    }
                };
                if done.get() {
                    mic.close();
                    return;
                }
                match Recorder::start(&mic) {
                    Ok(r) => live.borrow_mut().rec = Some(r),
                    Err(e) => {
                        mic.close();
                        error.set(Some(e));
                        state.set(Dictation::Failed);
                        return;
                    }
                }
                live.borrow_mut().mic = Some(mic);
                state.set(Dictation::Recording);
                let started = media::now_ms();
                while !done.get() && state.get_untracked() == Dictation::Recording {
                    if let Some(m) = &live.borrow().mic {
                        // -60 dBFS … 0 dBFS → 0 … 1
                        level.set(((m.level_db() as f64 + 60.0) / 60.0).clamp(0.0, 1.0));
                    }
                    elapsed.set(media::now_ms() - started);
                    media::sleep(50).await;
                }
            });
        }
        {
            let live = live.clone();
            let done = done.clone();
            Effect::new(move |prev: Option<()>| {
                finish.track();
                if prev.is_none() || state.get_untracked() != Dictation::Recording {
                    return;
                }
                state.set(Dictation::Transcribing);
                let rec = live.borrow_mut().rec.take();
                let mic = live.borrow_mut().mic.take();
                let done = done.clone();
                leptos::task::spawn_local(async move {
                    let blob = match rec {
                        Some(r) => r.finish().await,
                        None => None,
                    };
                    if let Some(m) = mic {
                        m.close();
                    }
                    let Some(blob) = blob else {
                        error.set(Some(
                            "Nothing was recorded — check your microphone and try again.".into(),
                        ));
                        state.set(Dictation::Failed);
                        return;
                    };
                    match media::transcribe(&blob).await {
                        Ok(text) if text.trim().is_empty() => {
                            error.set(Some("No speech was heard — try again, a little closer to the microphone.".into()));
                            state.set(Dictation::Failed);
                        }
                        Ok(text) => {
                            if !done.get() {
                                on_text.run(text.trim().to_string());
                                on_close.run(());
                            }
                        }
                        Err(e) => {
                            error.set(Some(e));
                            state.set(Dictation::Failed);
                        }
                    }
                });
            });
        }
        let keys = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" {
                ev.prevent_default();
                cancel();
            }
        });
        let live_c = live.clone();
        on_cleanup_local(move || {
            keys.remove();
            done.set(true);
            let mut l = live_c.borrow_mut();
            if let Some(r) = l.rec.take() {
                r.cancel();
            }
            if let Some(m) = l.mic.take() {
                m.close();
            }
        });
    }

    let status = move || match state.get() {
        Dictation::Starting => "Starting the microphone…".to_string(),
        Dictation::Recording => format!("Listening… {}", clock(elapsed.get())),
        Dictation::Transcribing => "Writing down what you said…".to_string(),
        Dictation::Failed => String::new(),
    };
    view! {
        <div class="dictation" role="dialog" aria-modal="true" aria-label="Dictation" data-testid="dictation"
            data-state=move || match state.get() {
                Dictation::Starting => "starting",
                Dictation::Recording => "recording",
                Dictation::Transcribing => "transcribing",
                Dictation::Failed => "failed",
            }>
            <span class="rec-dot" aria-hidden="true" class:on=move || state.get() == Dictation::Recording></span>
            <meter class="level" min="0" max="1" value=move || level.get() aria-label="Microphone level" data-testid="dictation-level"></meter>
            <span class="dictation-status" role="status" data-testid="dictation-status">{status}</span>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="voice-error">{e}</p> })}
            <div class="dictation-actions">
                <button type="button" class="btn btn-ghost" data-testid="dictation-cancel" on:click=move |_| cancel()>"Cancel"</button>
                <Show when=move || state.get() == Dictation::Recording>
                    <button type="button" class="btn btn-primary" data-testid="dictation-done" autofocus=true
                        on:click=move |_| finish.notify()>"Insert text"</button>
                </Show>
            </div>
        </div>
    }
}

// ---------------------------------------------------------------------------
// Read aloud
// ---------------------------------------------------------------------------

thread_local! {
    /// The answer being read aloud (one at a time, in the whole page).
    static READING: ArcRwSignal<Option<String>> = ArcRwSignal::new(None);
}

fn reading() -> ArcRwSignal<Option<String>> {
    READING.with(Clone::clone)
}

/// An answer's speaker button: reads it aloud sentence by sentence (the
/// first sentence plays while the next is fetched); pressed again, stops.
#[component]
pub fn ReadAloudButton(msg: UiMessage) -> impl IntoView {
    let now = reading();
    let id = msg.id();
    let on = {
        let now = now.clone();
        let id = id.clone();
        Memo::new(move |_| now.get().as_deref() == Some(id.as_str()))
    };
    let toggle = {
        let now = now.clone();
        let id = id.clone();
        move |_| {
            if on.get_untracked() {
                now.set(None);
            } else {
                now.set(Some(id.clone()));
            }
        }
    };
    let finished = {
        let now = now.clone();
        let id = id.clone();
        Callback::new(move |_: ()| {
            if now.get_untracked().as_deref() == Some(id.as_str()) {
                now.set(None);
            }
        })
    };
    view! {
        <button type="button" class="btn btn-ghost btn-small" data-testid="read-aloud"
            aria-pressed=move || on.get().to_string()
            disabled=move || msg.status.get() == MessageStatus::Streaming
            on:click=toggle>
            {move || if on.get() { "Stop reading" } else { "Read aloud" }}
        </button>
        {move || on.get().then(|| view! {
            {read_aloud_player(msg.text.get_untracked(), finished)}
        })}
    }
}

fn read_aloud_player(text: String, on_done: Callback<()>) -> AnyView {
    view! { <ReadAloudPlayer text on_done /> }.into_any()
}

/// Plays `text`; unmounting it stops the sound at once.
#[component]
fn ReadAloudPlayer(text: String, on_done: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(Option::<String>::None);
    #[cfg(feature = "hydrate")]
    {
        use crate::voice::media::{self, Player};
        use std::cell::{Cell, RefCell};
        use std::rc::Rc;
        let alive = Rc::new(Cell::new(true));
        let player = Player::new();
        let sentences = crate::voice::text::sentences(&text);
        if let Some(player) = player.clone() {
            let alive = alive.clone();
            leptos::task::spawn_local(async move {
                let speed = crate::api::settings::get_settings()
                    .await
                    .map(|s| s.voice_speed)
                    .unwrap_or(1.0);
                type Slot = Rc<RefCell<Option<Result<web_sys::Blob, String>>>>;
                let fetch = |s: String| -> Slot {
                    let slot: Slot = Rc::new(RefCell::new(None));
                    let fill = slot.clone();
                    leptos::task::spawn_local(async move {
                        let got = media::speech(&s).await;
                        *fill.borrow_mut() = Some(got);
                    });
                    slot
                };
                let mut next = sentences.first().cloned().map(fetch);
                for i in 0..sentences.len() {
                    let Some(slot) = next.take() else { break };
                    next = sentences.get(i + 1).cloned().map(fetch);
                    while slot.borrow().is_none() && alive.get() {
                        media::sleep(20).await;
                    }
                    if !alive.get() {
                        return;
                    }
                    let got = slot.borrow_mut().take();
                    match got {
                        Some(Ok(blob)) => {
                            if let Err(e) = player.play(&blob, speed, Box::new(|| {})).await {
                                error.set(Some(e));
                                break;
                            }
                        }
                        Some(Err(e)) => {
                            error.set(Some(e));
                            break;
                        }
                        None => break,
                    }
                    if !alive.get() {
                        return;
                    }
                }
                if error.get_untracked().is_none() {
                    on_done.run(());
                }
            });
        } else {
            error.set(Some("This browser cannot play audio.".into()));
        }
        on_cleanup_local(move || {
            alive.set(false);
            if let Some(p) = player {
                p.stop();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (text, on_done);
    move || {
        error.get().map(|e| {
            view! { <p class="form-error read-aloud-error" role="alert" data-testid="voice-error">{e}</p> }
        })
    }
}

// ---------------------------------------------------------------------------
// Voice call
// ---------------------------------------------------------------------------

/// What the call view needs from its thread page: sending a message (the
/// composer's path), stopping the answer, the answer being written, the
/// model, and the voice preferences.
#[derive(Clone, Copy)]
pub struct CallLink {
    pub on_send: Callback<SendRequest>,
    pub on_stop: Callback<()>,
    pub latest_answer: Signal<Option<UiMessage>>,
    pub model: Signal<String>,
    pub settings: Signal<Option<SettingsDto>>,
    /// The thread the call is in (a reload rejoins it).
    pub thread_id: Signal<String>,
}

/// Where a tab remembers the call it was in (a reload rejoins it).
pub const CALL_STORAGE_KEY: &str = "mistralchat.call";

/// The thread a call was running in before a reload of this tab, if any.
pub fn call_to_rejoin() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        window()
            .session_storage()
            .ok()
            .flatten()?
            .get_item(CALL_STORAGE_KEY)
            .ok()
            .flatten()
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The composer's call button and, once pressed, the call view.
#[component]
pub fn CallButton(link: CallLink, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" class="btn-icon call-button" data-testid="voice-call" data-action="call"
            aria-label="Voice call (Ctrl/⌘ + Alt + V)" title="Talk with the model — a hands-free voice call (Ctrl/⌘ + Alt + V)"
            aria-pressed=move || open.get().to_string()
            on:click=move |_| open.set(true)></button>
        <Show when=move || open.get()>
            {call_view(link, Callback::new(move |_| open.set(false)))}
        </Show>
    }
}

fn call_view(link: CallLink, on_close: Callback<()>) -> AnyView {
    view! { <CallView link on_close /> }.into_any()
}

/// Where a call is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum CallState {
    Starting,
    Listening,
    Hearing,
    Transcribing,
    Thinking,
    Speaking,
    Muted,
    Paused,
    Failed,
}

impl CallState {
    fn name(self) -> &'static str {
        match self {
            CallState::Starting => "starting",
            CallState::Listening => "listening",
            CallState::Hearing => "hearing",
            CallState::Transcribing => "transcribing",
            CallState::Thinking => "thinking",
            CallState::Speaking => "speaking",
            CallState::Muted => "muted",
            CallState::Paused => "paused",
            CallState::Failed => "failed",
        }
    }
    fn sentence(self) -> &'static str {
        match self {
            CallState::Starting => "Starting the microphone…",
            CallState::Listening => "Listening",
            CallState::Hearing => "Listening — you are speaking",
            CallState::Transcribing => "Got it — writing it down",
            CallState::Thinking => "Thinking",
            CallState::Speaking => "Speaking — talk to interrupt",
            CallState::Muted => "Muted",
            CallState::Paused => "Call paused",
            CallState::Failed => "The call stopped",
        }
    }
}

/// One line of the call's transcript.
#[derive(Clone, PartialEq)]
struct Line {
    you: bool,
    text: String,
}

#[component]
fn CallView(link: CallLink, on_close: Callback<()>) -> impl IntoView {
    let state = RwSignal::new(CallState::Starting);
    let error = RwSignal::new(Option::<String>::None);
    let lines = RwSignal::new(Vec::<Line>::new());
    let timing = RwSignal::new(crate::voice::text::TurnTiming::default());
    let level = RwSignal::new(0.0f64);
    let camera_on = RwSignal::new(false);
    let camera_error = RwSignal::new(Option::<String>::None);
    let video = NodeRef::<leptos::html::Video>::new();
    let toggle_mute = Trigger::new();
    let resume = Trigger::new();
    let end = move || on_close.run(());
    let numbered = move || {
        lines
            .get()
            .into_iter()
            .enumerate()
            .collect::<Vec<(usize, Line)>>()
    };

    #[cfg(feature = "hydrate")]
    call_engine(
        link,
        state,
        error,
        lines,
        timing,
        level,
        camera_on,
        camera_error,
        video,
        toggle_mute,
        resume,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (link, toggle_mute, resume);

    view! {
        <section class="call-view" role="dialog" aria-label="Voice call" data-testid="call-view"
            data-state=move || state.get().name()>
            <header class="call-head">
                <h2>"Voice call"</h2>
                <p class="call-state" role="status" aria-live="polite" data-testid="call-state">{move || state.get().sentence()}</p>
            </header>
            <div class="call-orb" class:active=move || matches!(state.get(), CallState::Hearing | CallState::Speaking)
                aria-hidden="true"
                style=move || format!("--level:{:.2}", level.get())></div>
            <video class="call-camera" node_ref=video muted=true playsinline=true data-testid="call-camera"
                hidden=move || !camera_on.get() aria-label="Your camera"></video>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="voice-error">{e}</p> })}
            {move || camera_error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="camera-error">{e}</p> })}
            <Show when=move || state.get() == CallState::Paused>
                <button type="button" class="btn btn-primary call-resume" data-testid="call-resume"
                    on:click=move |_| resume.notify()>"Resume call"</button>
            </Show>
            <p class="call-latency muted" data-testid="call-latency">{move || timing.get().readout()}</p>
            <ol class="call-transcript" data-testid="call-transcript" aria-label="Transcript of the call">
                <For each=numbered key=|(i, l): &(usize, Line)| (*i, l.text.len()) let:item>
                    <li class=if item.1.you { "you" } else { "assistant" }>
                        <span class="visually-hidden">{if item.1.you { "You: " } else { "Mistral: " }}</span>
                        {item.1.text.clone()}
                    </li>
                </For>
            </ol>
            <div class="call-controls">
                <button type="button" class="btn" data-testid="call-mute"
                    aria-pressed=move || (state.get() == CallState::Muted).to_string()
                    disabled=move || matches!(state.get(), CallState::Starting | CallState::Failed | CallState::Paused)
                    on:click=move |_| toggle_mute.notify()>
                    {move || if state.get() == CallState::Muted { "Unmute" } else { "Mute" }}
                </button>
                <button type="button" class="btn" data-testid="call-camera-toggle"
                    aria-pressed=move || camera_on.get().to_string()
                    on:click=move |_| camera_on.update(|c| *c = !*c)>
                    {move || if camera_on.get() { "Camera off" } else { "Camera on" }}
                </button>
                <button type="button" class="btn btn-danger" data-testid="call-end" on:click=move |_| end()>"End call"</button>
            </div>
        </section>
    }
}

/// The call's machinery: microphone → detector → recording → transcript →
/// message; answer text → sentences → speech → playback; barge-in, mute,
/// camera, pause when the page is hidden.
#[cfg(feature = "hydrate")]
#[allow(clippy::too_many_arguments)]
fn call_engine(
    link: CallLink,
    state: RwSignal<CallState>,
    error: RwSignal<Option<String>>,
    lines: RwSignal<Vec<Line>>,
    timing: RwSignal<crate::voice::text::TurnTiming>,
    level: RwSignal<f64>,
    camera_on: RwSignal<bool>,
    camera_error: RwSignal<Option<String>>,
    video: NodeRef<leptos::html::Video>,
    toggle_mute: Trigger,
    resume: Trigger,
) {
    use crate::voice::media::{self, Mic, Player, Recorder};
    use crate::voice::text::{is_echo, Sentences};
    use crate::voice::vad::{Vad, VadConfig, VadEvent};
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    type Slot = Rc<RefCell<Option<Result<web_sys::Blob, String>>>>;
    struct Core {
        mic: Option<Mic>,
        rec: Option<Recorder>,
        rec_started: f64,
        camera: Option<web_sys::MediaStream>,
        vad: Vad,
        player: Option<Player>,
        /// Bumped by every new turn and every interruption: work for an
        /// older turn stops.
        turn: u32,
        /// The answer this turn waits for: any assistant message other
        /// than the one before the send.
        answer_before: Option<String>,
        answer_id: Option<String>,
        answer_done: bool,
        cutter: Sentences,
        queue: VecDeque<(String, Slot)>,
        /// The turn whose sentences are being played, if any.
        speaking_loop: Option<u32>,
        just_spoken: String,
        speech_end_at: f64,
        alive: bool,
    }
    let silence = link
        .settings
        .with_untracked(|s| s.as_ref().map(|s| s.voice_silence_ms))
        .unwrap_or(crate::model::DEFAULT_VOICE_SILENCE_MS);
    let core = Rc::new(RefCell::new(Core {
        mic: None,
        rec: None,
        rec_started: 0.0,
        camera: None,
        vad: Vad::new(VadConfig::with_silence(silence)),
        player: Player::new(),
        turn: 0,
        answer_before: None,
        answer_id: None,
        answer_done: true,
        cutter: Sentences::new(),
        queue: VecDeque::new(),
        speaking_loop: None,
        just_spoken: String::new(),
        speech_end_at: 0.0,
        alive: true,
    }));
    let barge_in = move || {
        link.settings
            .with_untracked(|s| s.as_ref().map(|s| s.voice_barge_in))
            .unwrap_or(true)
    };
    let speed = move || {
        link.settings
            .with_untracked(|s| s.as_ref().map(|s| s.voice_speed))
            .unwrap_or(1.0)
    };

    // A fresh recording (the previous one, if any, is dropped).
    fn restart_recorder(c: &mut Core) {
        if let Some(r) = c.rec.take() {
            r.cancel();
        }
        if let Some(m) = &c.mic {
            c.rec = Recorder::start(m).ok();
            c.rec_started = media::now_ms();
        }
    }
    // Silences the assistant and forgets what it was going to say.
    fn hush(c: &mut Core) {
        c.turn += 1;
        c.queue.clear();
        if let Some(p) = &c.player {
            p.stop();
        }
    }
    // Neither speaks nor listens (mute, a hidden page): the microphone's
    // track is off and nothing is recorded.
    fn go_quiet(c: &mut Core) {
        hush(c);
        if let Some(r) = c.rec.take() {
            r.cancel();
        }
        if let Some(m) = &c.mic {
            m.set_muted(true);
        }
        c.vad.reset();
    }
    let listen = {
        let core = core.clone();
        move || {
            let mut c = core.borrow_mut();
            c.vad.reset();
            restart_recorder(&mut c);
            state.set(CallState::Listening);
        }
    };

    // Start: the microphone, then listening (or "paused" until a tap when
    // the page was reloaded and may not play sound yet).
    let start = {
        let core = core.clone();
        let listen = listen.clone();
        move || {
            let core = core.clone();
            let listen = listen.clone();
            state.set(CallState::Starting);
            leptos::task::spawn_local(async move {
                let opened = core.borrow().mic.is_some();
                if !opened {
                    match Mic::open().await {
                        Ok(m) => core.borrow_mut().mic = Some(m),
                        Err(e) => {
                            error.set(Some(e));
                            state.set(CallState::Failed);
                            return;
                        }
                    }
                }
                if !core.borrow().alive {
                    if let Some(m) = core.borrow_mut().mic.take() {
                        m.close();
                    }
                    return;
                }
                let mic_ready = {
                    let c = core.borrow();
                    if let Some(m) = &c.mic {
                        m.set_muted(false);
                    }
                    c.mic.as_ref().map(|m| m.running())
                };
                if mic_ready == Some(false) {
                    // Try once more (a tap just happened if we came from Resume).
                    let m = core.borrow_mut().mic.take();
                    if let Some(m) = m {
                        m.resume().await;
                        let ok = m.running();
                        core.borrow_mut().mic = Some(m);
                        if !ok {
                            state.set(CallState::Paused);
                            return;
                        }
                    }
                }
                error.set(None);
                listen();
            });
        }
    };
    if let Some(w) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = w.set_item(CALL_STORAGE_KEY, &link.thread_id.get_untracked());
    }
    if media::page_was_activated() {
        start();
    } else {
        state.set(CallState::Paused);
    }
    Effect::new({
        let start = start.clone();
        move |prev: Option<()>| {
            resume.track();
            if prev.is_some() && state.get_untracked() == CallState::Paused {
                start();
            }
        }
    });

    // Plays the queued sentences of turn `turn` in order, then listens.
    let speak_loop = {
        let core = core.clone();
        let listen = listen.clone();
        move |turn: u32| {
            let core = core.clone();
            let listen = listen.clone();
            if core.borrow().speaking_loop == Some(turn) {
                return;
            }
            core.borrow_mut().speaking_loop = Some(turn);
            leptos::task::spawn_local(async move {
                loop {
                    let (same_turn, front, done) = {
                        let c = core.borrow();
                        (
                            c.turn == turn && c.alive,
                            c.queue.front().map(|(_, s)| s.borrow().is_some()),
                            c.answer_done,
                        )
                    };
                    if !same_turn {
                        break;
                    }
                    match front {
                        Some(true) => {
                            let (text, slot) =
                                core.borrow_mut().queue.pop_front().unwrap_or_default();
                            let got = slot.borrow_mut().take();
                            let player = core.borrow().player.clone();
                            match (got, player) {
                                (Some(Ok(blob)), Some(player)) => {
                                    state.set(CallState::Speaking);
                                    core.borrow_mut().just_spoken.push_str(&format!(" {text}"));
                                    let end_at = core.borrow().speech_end_at;
                                    let r = player
                                        .play(
                                            &blob,
                                            speed(),
                                            Box::new(move || {
                                                timing.update(|t| {
                                                    if t.first_audio.is_none() {
                                                        t.first_audio =
                                                            Some(media::now_ms() - end_at);
                                                    }
                                                })
                                            }),
                                        )
                                        .await;
                                    if let Err(e) = r {
                                        error.set(Some(e));
                                    }
                                }
                                (Some(Err(e)), _) => error.set(Some(e)),
                                _ => {}
                            }
                        }
                        Some(false) => media::sleep(20).await,
                        None if done => break,
                        None => media::sleep(30).await,
                    }
                }
                let again = {
                    let mut c = core.borrow_mut();
                    if c.speaking_loop == Some(turn) {
                        c.speaking_loop = None;
                    }
                    c.turn == turn
                        && c.alive
                        && matches!(
                            state.get_untracked(),
                            CallState::Speaking | CallState::Thinking
                        )
                };
                if again {
                    // The speakers' sound must not be in the next recording.
                    listen();
                }
            });
        }
    };

    // Queues a sentence: its audio is fetched at once, played in order.
    let enqueue = {
        let core = core.clone();
        let speak_loop = speak_loop.clone();
        move |sentence: String| {
            let slot: Slot = Rc::new(RefCell::new(None));
            let turn = {
                let mut c = core.borrow_mut();
                c.queue.push_back((sentence.clone(), slot.clone()));
                c.turn
            };
            leptos::task::spawn_local(async move {
                let got = media::speech(&sentence).await;
                *slot.borrow_mut() = Some(got);
            });
            speak_loop(turn);
        }
    };

    // The answer as it streams: the transcript line, the first-token time,
    // and each finished sentence to speech.
    Effect::new({
        let core = core.clone();
        let enqueue = enqueue.clone();
        let speak_loop = speak_loop.clone();
        move |_| {
            let Some(m) = link.latest_answer.get() else {
                return;
            };
            let id = m.id();
            let text = m.text.get();
            let status = m.status.get();
            let mut c = core.borrow_mut();
            let waiting = matches!(
                state.get_untracked(),
                CallState::Thinking | CallState::Speaking
            );
            if !waiting || c.answer_before.as_deref() == Some(id.as_str()) {
                return;
            }
            if c.answer_id.as_deref() != Some(id.as_str()) {
                if c.answer_id.is_some() {
                    return;
                }
                c.answer_id = Some(id);
                c.answer_done = false;
                c.cutter = Sentences::new();
                lines.update(|l| {
                    l.push(Line {
                        you: false,
                        text: String::new(),
                    })
                });
            }
            if !text.is_empty() {
                let end_at = c.speech_end_at;
                timing.update(|t| {
                    if t.first_token.is_none() {
                        t.first_token = Some(media::now_ms() - end_at);
                    }
                });
            }
            let spoken = crate::voice::text::speech_text(&text);
            lines.update(|l| {
                if let Some(last) = l.last_mut().filter(|l| !l.you) {
                    last.text = spoken;
                }
            });
            let done = status != MessageStatus::Streaming;
            let fresh = if done {
                c.cutter.finish(&text)
            } else {
                c.cutter.push(&text)
            };
            if done {
                c.answer_done = true;
            }
            drop(c);
            for s in fresh {
                enqueue(s);
            }
            if done {
                // Nothing (more) to say — an empty or failed answer: the
                // loop finds the queue empty and listens again.
                speak_loop(core.borrow().turn);
            }
        }
    });

    // A finished utterance: transcript → message (with a camera frame).
    let end_of_turn = {
        let core = core.clone();
        let listen = listen.clone();
        move || {
            state.set(CallState::Transcribing);
            let (rec, frame_from) = {
                let mut c = core.borrow_mut();
                c.speech_end_at = media::now_ms();
                let rec = c.rec.take();
                // The next utterance (or an interruption) is recorded from now.
                restart_recorder(&mut c);
                (
                    rec,
                    c.camera.is_some().then(|| video.get_untracked()).flatten(),
                )
            };
            timing.set(Default::default());
            let core = core.clone();
            let listen = listen.clone();
            leptos::task::spawn_local(async move {
                let frame = match frame_from {
                    Some(v) => media::frame(&v).await,
                    None => None,
                };
                let blob = match rec {
                    Some(r) => r.finish().await,
                    None => None,
                };
                let Some(blob) = blob else {
                    listen();
                    return;
                };
                let text = match media::transcribe(&blob).await {
                    Ok(t) => t.trim().to_string(),
                    Err(e) => {
                        error.set(Some(e));
                        listen();
                        return;
                    }
                };
                let end_at = core.borrow().speech_end_at;
                timing.update(|t| t.transcript = Some(media::now_ms() - end_at));
                let echo = is_echo(&text, &core.borrow().just_spoken);
                if text.is_empty() || echo || !core.borrow().alive {
                    listen();
                    return;
                }
                let attachments = match frame {
                    Some(jpeg) => match media::upload_frame(&jpeg).await {
                        Ok(id) => vec![id],
                        Err(e) => {
                            camera_error.set(Some(e));
                            vec![]
                        }
                    },
                    None => vec![],
                };
                lines.update(|l| {
                    l.push(Line {
                        you: true,
                        text: text.clone(),
                    })
                });
                {
                    let mut c = core.borrow_mut();
                    c.answer_before = link.latest_answer.with_untracked(|m| m.map(|m| m.id()));
                    c.answer_id = None;
                    c.answer_done = false;
                    c.just_spoken.clear();
                }
                state.set(CallState::Thinking);
                // A callback must be `Send`: the listener is held locally.
                let listen_again = StoredValue::new_local(listen.clone());
                link.on_send.run(SendRequest {
                    text,
                    model: link.model.get_untracked(),
                    think: false,
                    tools: vec![],
                    attachments,
                    images_as_text: false,
                    spoken: true,
                    settle: Callback::new(move |accepted: bool| {
                        if !accepted {
                            error.set(Some(
                                "Your words were not sent — see the message below the thread, then speak again.".into(),
                            ));
                            listen_again.with_value(|f| f());
                        }
                    }),
                });
            });
        }
    };

    // The detector, every 30 ms.
    let tick = {
        let core = core.clone();
        let end_of_turn = end_of_turn.clone();
        move || {
            let now_state = state.get_untracked();
            let (event, lvl, stale_recording) = {
                let mut c = core.borrow_mut();
                let Some(l) = c.mic.as_ref().map(Mic::level_db) else {
                    return;
                };
                let playing = c.player.as_ref().is_some_and(Player::playing);
                let active = matches!(
                    now_state,
                    CallState::Listening
                        | CallState::Hearing
                        | CallState::Speaking
                        | CallState::Thinking
                );
                let ev = if active {
                    c.vad
                        .step(l, 30, playing || now_state == CallState::Speaking)
                } else {
                    VadEvent::None
                };
                let stale = now_state == CallState::Listening
                    && !c.vad.in_speech()
                    && media::now_ms() - c.rec_started > 10_000.0;
                (ev, l, stale)
            };
            level.set(((lvl as f64 + 60.0) / 60.0).clamp(0.0, 1.0));
            if stale_recording {
                restart_recorder(&mut core.borrow_mut());
            }
            match (now_state, event) {
                (CallState::Listening, VadEvent::SpeechStart) => state.set(CallState::Hearing),
                (CallState::Hearing, VadEvent::SpeechEnd) => end_of_turn(),
                (CallState::Speaking | CallState::Thinking, VadEvent::SpeechStart)
                    if barge_in() =>
                {
                    // Barge-in: silence, stop the answer, hear the person.
                    hush(&mut core.borrow_mut());
                    if link.latest_answer.with_untracked(|m| {
                        m.is_some_and(|m| m.status.get_untracked() == MessageStatus::Streaming)
                    }) {
                        link.on_stop.run(());
                    }
                    state.set(CallState::Hearing);
                }
                _ => {}
            }
        }
    };
    let interval = set_interval_with_handle(tick, std::time::Duration::from_millis(30)).ok();

    // Mute: the microphone's track is switched off, nothing is recorded.
    Effect::new({
        let core = core.clone();
        let listen = listen.clone();
        move |prev: Option<()>| {
            toggle_mute.track();
            if prev.is_none() {
                return;
            }
            if state.get_untracked() == CallState::Muted {
                if let Some(m) = &core.borrow().mic {
                    m.set_muted(false);
                }
                listen();
            } else {
                go_quiet(&mut core.borrow_mut());
                state.set(CallState::Muted);
            }
        }
    });

    // The camera: on, a preview and a frame with each utterance; off,
    // released.
    Effect::new({
        let core = core.clone();
        move |prev: Option<bool>| {
            let on = camera_on.get();
            if prev.is_none() && !on {
                return on;
            }
            if on {
                let core = core.clone();
                leptos::task::spawn_local(async move {
                    match media::user_media(true).await {
                        Ok(stream) => {
                            if !camera_on.get_untracked() || !core.borrow().alive {
                                media::stop_stream(&stream);
                                return;
                            }
                            if let Some(v) = video.get_untracked() {
                                media::preview(&v, &stream);
                            }
                            camera_error.set(None);
                            core.borrow_mut().camera = Some(stream);
                        }
                        Err(e) => {
                            camera_error.set(Some(e));
                            camera_on.set(false);
                        }
                    }
                });
            } else if let Some(s) = core.borrow_mut().camera.take() {
                media::stop_stream(&s);
                if let Some(v) = video.get_untracked() {
                    v.set_src_object(None);
                }
            }
            on
        }
    });

    // A hidden page (another tab, a locked screen) pauses the call.
    let visibility = media::on_visibility({
        let core = core.clone();
        move |hidden| {
            if hidden && !matches!(state.get_untracked(), CallState::Paused | CallState::Failed) {
                go_quiet(&mut core.borrow_mut());
                state.set(CallState::Paused);
            }
        }
    });

    on_cleanup_local(move || {
        drop(visibility);
        if let Some(i) = interval {
            i.clear();
        }
        if let Some(w) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
            let _ = w.remove_item(CALL_STORAGE_KEY);
        }
        let mut c = core.borrow_mut();
        c.alive = false;
        hush(&mut c);
        if let Some(r) = c.rec.take() {
            r.cancel();
        }
        if let Some(m) = c.mic.take() {
            m.close();
        }
        if let Some(s) = c.camera.take() {
            media::stop_stream(&s);
        }
    });
}
