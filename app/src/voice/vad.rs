//! Voice-activity detection that runs in the page with nothing to download:
//! the microphone's level (dBFS, from an `AnalyserNode`) against a noise
//! floor that follows the room. Speech starts after [`VadConfig::onset_ms`]
//! above the floor by [`VadConfig::margin_db`] and ends after
//! [`VadConfig::end_silence_ms`] below it. While the assistant is speaking
//! the margin is higher ([`VadConfig::playing_margin_db`]), so that what the
//! echo canceller leaves of its voice does not count as the person
//! interrupting.

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Above the noise floor by this much is speech.
    pub margin_db: f32,
    /// The margin while the assistant's voice plays (barge-in).
    pub playing_margin_db: f32,
    /// Nothing quieter than this is speech, however quiet the room.
    pub min_speech_db: f32,
    /// Speech must last this long to start a turn (a cough or a click does not).
    pub onset_ms: u32,
    /// Silence this long ends the turn (the user's "end-of-turn silence").
    pub end_silence_ms: u32,
    /// A turn ends after this long whatever the level (a noise that started
    /// mid-call is not an endless sentence).
    pub max_turn_ms: u32,
}

impl VadConfig {
    pub fn with_silence(end_silence_ms: u32) -> Self {
        Self {
            margin_db: 12.0,
            playing_margin_db: 22.0,
            min_speech_db: -55.0,
            onset_ms: 120,
            end_silence_ms,
            max_turn_ms: 30_000,
        }
    }
}

/// What a new level reading changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    None,
    SpeechStart,
    SpeechEnd,
}

/// The detector's state between readings.
#[derive(Debug, Clone)]
pub struct Vad {
    pub config: VadConfig,
    /// The noise floor in dBFS (`None` until the first reading).
    floor: Option<f32>,
    /// Time above the threshold (while not in speech), or below it (in speech).
    run_ms: u32,
    /// Length of the turn in progress.
    turn_ms: u32,
    in_speech: bool,
}

/// The level of `samples` (−1..1) in dBFS, at least −100.
pub fn level_db(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let power = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    (10.0 * power.max(1e-10).log10()).max(-100.0)
}

impl Vad {
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            floor: None,
            run_ms: 0,
            turn_ms: 0,
            in_speech: false,
        }
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// The current noise floor (dBFS).
    pub fn floor(&self) -> f32 {
        self.floor.unwrap_or(-100.0)
    }

    /// Forgets a turn in progress (after mute, or when the assistant starts
    /// listening again), keeping what it learnt of the room.
    pub fn reset(&mut self) {
        self.run_ms = 0;
        self.turn_ms = 0;
        self.in_speech = false;
    }

    /// One reading: `level` (dBFS) over the last `dt_ms`; `playing` when the
    /// assistant's voice is coming out of the speakers.
    pub fn step(&mut self, level: f32, dt_ms: u32, playing: bool) -> VadEvent {
        let floor = *self.floor.get_or_insert(level);
        let margin = if playing {
            self.config.playing_margin_db
        } else {
            self.config.margin_db
        };
        let loud = level >= (floor + margin).max(self.config.min_speech_db);
        // The floor follows quiet readings quickly and loud ones slowly —
        // very slowly during speech (a long sentence is not the room), and
        // never up while the assistant plays (its echo is not the room either).
        let alpha = match (self.in_speech, loud) {
            (_, false) if level < floor => 0.3,
            _ if playing => 0.0,
            (_, false) => 0.05,
            (false, true) => 0.002,
            (true, true) => 0.0005,
        };
        self.floor = Some(floor + (level - floor) * alpha);
        if self.in_speech {
            self.turn_ms += dt_ms;
            if self.turn_ms >= self.config.max_turn_ms {
                self.reset();
                return VadEvent::SpeechEnd;
            }
            if loud {
                self.run_ms = 0;
            } else {
                self.run_ms += dt_ms;
                if self.run_ms >= self.config.end_silence_ms {
                    self.reset();
                    return VadEvent::SpeechEnd;
                }
            }
        } else if loud {
            self.run_ms += dt_ms;
            if self.run_ms >= self.config.onset_ms {
                self.in_speech = true;
                self.run_ms = 0;
                self.turn_ms = 0;
                return VadEvent::SpeechStart;
            }
        } else {
            self.run_ms = 0;
        }
        VadEvent::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(level, ms)` runs in 20 ms readings; the events with the time
    /// they happened at.
    fn run(vad: &mut Vad, script: &[(f32, u32)], playing: bool) -> Vec<(u32, VadEvent)> {
        let mut t = 0;
        let mut out = vec![];
        for &(level, ms) in script {
            for _ in 0..ms / 20 {
                t += 20;
                let e = vad.step(level, 20, playing);
                if e != VadEvent::None {
                    out.push((t, e));
                }
            }
        }
        out
    }

    #[test]
    fn a_turn_starts_after_the_onset_and_ends_after_the_silence() {
        let mut vad = Vad::new(VadConfig::with_silence(800));
        let ev = run(
            &mut vad,
            &[(-70.0, 1000), (-25.0, 1500), (-70.0, 1500)],
            false,
        );
        assert_eq!(
            ev,
            vec![(1120, VadEvent::SpeechStart), (3300, VadEvent::SpeechEnd)]
        );
    }

    #[test]
    fn a_click_is_not_speech_and_a_pause_within_the_silence_keeps_the_turn() {
        let mut vad = Vad::new(VadConfig::with_silence(800));
        let ev = run(
            &mut vad,
            &[
                (-70.0, 1000),
                (-25.0, 60),
                (-70.0, 500),
                (-25.0, 400),
                (-70.0, 500),
                (-25.0, 400),
                (-70.0, 1000),
            ],
            false,
        );
        assert_eq!(
            ev.iter().filter(|e| e.1 == VadEvent::SpeechStart).count(),
            1
        );
        assert_eq!(ev.iter().filter(|e| e.1 == VadEvent::SpeechEnd).count(), 1);
    }

    #[test]
    fn the_floor_follows_a_noisy_room() {
        let mut vad = Vad::new(VadConfig::with_silence(800));
        // A fan switched on mid-call is not an endless turn.
        let ev = run(&mut vad, &[(-70.0, 500), (-40.0, 40_000)], false);
        assert_eq!(ev.first().map(|e| e.1), Some(VadEvent::SpeechStart));
        assert!(ev.iter().any(|e| e.1 == VadEvent::SpeechEnd), "{ev:?}");
        // A fan running from the start is learnt and never speech.
        let mut calm = Vad::new(VadConfig::with_silence(800));
        assert!(run(&mut calm, &[(-40.0, 3000)], false).is_empty());
        assert!(calm.floor() > -41.0 && calm.floor() < -39.0);
        // Speech over the fan still counts.
        let ev = run(&mut calm, &[(-20.0, 600), (-40.0, 1000)], false);
        assert_eq!(ev.len(), 2);
    }

    #[test]
    fn while_playing_only_louder_speech_interrupts() {
        let mut vad = Vad::new(VadConfig::with_silence(800));
        run(&mut vad, &[(-60.0, 1000)], false);
        // The echo canceller's leftovers: 15 dB over the floor.
        assert!(run(&mut vad, &[(-45.0, 1000)], true).is_empty());
        vad.reset();
        let ev = run(&mut vad, &[(-30.0, 300)], true);
        assert_eq!(ev.first().map(|e| e.1), Some(VadEvent::SpeechStart));
    }

    #[test]
    fn nothing_below_the_absolute_minimum_is_speech() {
        let mut vad = Vad::new(VadConfig::with_silence(800));
        assert!(run(&mut vad, &[(-95.0, 1000), (-60.0, 1000)], false).is_empty());
    }

    #[test]
    fn levels_are_in_dbfs() {
        assert_eq!(level_db(&[]), -100.0);
        assert!((level_db(&[1.0, -1.0]) - 0.0).abs() < 1e-4);
        assert!((level_db(&[0.1; 64]) + 20.0).abs() < 1e-3);
    }
}
