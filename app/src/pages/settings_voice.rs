//! `/settings/voice`: the voice answers are read in, the language spoken,
//! the reading speed, how long a silence ends a turn in a call, and whether
//! speaking over an answer interrupts it. Saved with one button; "Play a
//! sample" reads a sentence with what is saved.
use crate::api::settings::get_settings;
use crate::api::voice::{save_voice_settings, voices};
use crate::client::server_fn_message;
use crate::model::{
    SettingsDto, VoiceDto, MAX_VOICE_SILENCE_MS, MAX_VOICE_SPEED, MIN_VOICE_SILENCE_MS,
    MIN_VOICE_SPEED,
};
use leptos::prelude::*;
use leptos_meta::Title;

/// Languages offered for speech (two-letter codes Voxtral understands).
const LANGUAGES: [(&str, &str); 13] = [
    ("en", "English"),
    ("fr", "French"),
    ("de", "German"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("hi", "Hindi"),
    ("ar", "Arabic"),
    ("ru", "Russian"),
    ("zh", "Chinese"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
];

#[component]
pub fn VoiceSettingsPage() -> impl IntoView {
    let loaded = Resource::new(|| (), |_| async { (get_settings().await, voices().await) });
    view! {
        <Title text="Voice" />
        <section class="settings" aria-labelledby="voice-title">
            <crate::pages::settings_models::SettingsTabs current="voice" />
            <h1 id="voice-title">"Voice"</h1>
            <p class="muted">"How answers are read aloud and how voice calls listen. Dictation and calls use your microphone only while they run."</p>
            <Suspense fallback=|| view! { <div class="skeleton skeleton-block"></div> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        (Ok(s), list) => {
                            let (list, why) = match list {
                                Ok(l) => (l.voices, None),
                                Err(e) => (vec![], Some(server_fn_message(&e))),
                            };
                            view! { <VoiceForm settings=s voices=list voices_error=why /> }.into_any()
                        }
                        (Err(e), _) => view! { <p class="form-error" role="alert">{server_fn_message(&e)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn VoiceForm(
    settings: SettingsDto,
    voices: Vec<VoiceDto>,
    voices_error: Option<String>,
) -> impl IntoView {
    let voice = RwSignal::new(settings.voice_id.clone().unwrap_or_default());
    let language = RwSignal::new(settings.voice_language.clone().unwrap_or_default());
    let speed = RwSignal::new(settings.voice_speed);
    let silence = RwSignal::new(settings.voice_silence_ms);
    let barge_in = RwSignal::new(settings.voice_barge_in);
    let saving = RwSignal::new(false);
    let note = RwSignal::new(Option::<Result<String, String>>::None);
    let sampling = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saving.set(true);
        note.set(None);
        leptos::task::spawn_local(async move {
            let blank = |s: String| (!s.trim().is_empty()).then_some(s);
            let r = save_voice_settings(
                blank(voice.get_untracked()),
                blank(language.get_untracked()),
                speed.get_untracked(),
                silence.get_untracked() as i64,
                barge_in.get_untracked(),
            )
            .await;
            note.set(Some(
                r.map(|_| "Saved.".to_string())
                    .map_err(|e| server_fn_message(&e)),
            ));
            saving.set(false);
        });
    };
    let sample = move |_| {
        sampling.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use crate::voice::media;
            let played = async {
                let blob = media::speech(
                    "Hello! This is how answers will sound when they are read aloud.",
                )
                .await?;
                let player = media::Player::new().ok_or("This browser cannot play audio.")?;
                player
                    .play(&blob, speed.get_untracked(), Box::new(|| {}))
                    .await
            };
            if let Err(e) = played.await {
                note.set(Some(Err(e)));
            }
            sampling.set(false);
        });
    };
    let voice_options = voices.clone();
    let set_speed = move |ev: leptos::ev::Event| {
        if let Ok(v) = event_target_value(&ev).parse::<f64>() {
            speed.set(v);
        }
    };
    let set_silence = move |ev: leptos::ev::Event| {
        if let Ok(v) = event_target_value(&ev).parse::<u32>() {
            silence.set(v);
        }
    };
    view! {
        <form class="voice-form" data-testid="voice-settings" on:submit=save>
            <label for="voice-id">"Voice"</label>
            <select id="voice-id" data-testid="voice-id" on:change=move |ev| voice.set(event_target_value(&ev))>
                <option value="" selected=move || voice.get().is_empty()>"Default voice"</option>
                {voice_options.into_iter().map(|v| {
                    let id = v.id.clone();
                    let label = if v.languages.is_empty() { v.name.clone() } else { format!("{} ({})", v.name, v.languages.join(", ")) };
                    view! { <option value=v.id.clone() selected=move || voice.get() == id>{label}</option> }
                }).collect_view()}
            </select>
            {voices_error.map(|e| view! { <p class="hint" data-testid="voices-error">{format!("Voices could not be listed: {e}")}</p> })}
            <label for="voice-language">"Language you speak"</label>
            <select id="voice-language" data-testid="voice-language" on:change=move |ev| language.set(event_target_value(&ev))>
                <option value="" selected=move || language.get().is_empty()>"Detect automatically"</option>
                {LANGUAGES.into_iter().map(|(code, name)| view! {
                    <option value=code selected=move || language.get() == code>{name}</option>
                }).collect_view()}
            </select>
            <label for="voice-speed">{move || format!("Reading speed: {:.1}×", speed.get())}</label>
            <input id="voice-speed" data-testid="voice-speed" type="range"
                min=MIN_VOICE_SPEED.to_string() max=MAX_VOICE_SPEED.to_string() step="0.1"
                prop:value=move || speed.get().to_string()
                on:input=set_speed />
            <label for="voice-silence">{move || format!("End of turn after {:.1} s of silence", silence.get() as f64 / 1000.0)}</label>
            <input id="voice-silence" data-testid="voice-silence" type="range"
                min=MIN_VOICE_SILENCE_MS.to_string() max=MAX_VOICE_SILENCE_MS.to_string() step="100"
                prop:value=move || silence.get().to_string()
                on:input=set_silence />
            <p class="hint">"Shorter answers sooner; longer lets you pause to think mid-sentence."</p>
            <label class="checkbox">
                <input type="checkbox" data-testid="voice-barge-in" prop:checked=move || barge_in.get()
                    on:change=move |ev| barge_in.set(event_target_checked(&ev)) />
                "Interrupt the answer when I start speaking"
            </label>
            <div class="row">
                <button type="submit" class="btn btn-primary" data-testid="voice-save" disabled=saving>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
                <button type="button" class="btn" data-testid="voice-sample" disabled=sampling on:click=sample>
                    {move || if sampling.get() { "Playing…" } else { "Play a sample" }}
                </button>
            </div>
            {move || note.get().map(|n| match n {
                Ok(t) => view! { <p class="hint" role="status" data-testid="voice-saved">{t}</p> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert" data-testid="voice-error">{e}</p> }.into_any(),
            })}
        </form>
    }
}
