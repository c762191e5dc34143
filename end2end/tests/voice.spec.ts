// Voice: dictation, read aloud, and the voice call, in Chromium with a
// scripted microphone. An init script replaces getUserMedia with a stream
// from an oscillator the test switches on ("speech") and off ("silence"),
// so turn-taking is deterministic; the camera is a canvas stream. The
// product's own code records it with MediaRecorder, detects speech, sends
// it to /api/transcribe (the fake Mistral behind it answers with the
// suite's transcript), and plays the fake's real MP3 speech.
import { test, expect, Page } from "@playwright/test";
import { hydrated, signUpWithKey, shot, noHorizontalOverflow } from "./helpers";

// What the fake transcribes every recording as (end2end/serve-e2e.sh).
const HEARD = "Tell me about Paris. [[fake:long words=100 tps=10]]";

type Options = { denied?: boolean };

/** The scripted microphone and camera, and a log of what the page does with audio. */
function fakeDevices(opts: Options) {
  const w = window as any;
  const log = { gum: [] as any[], played: [] as any[], paused: [] as number[], tts: [] as any[], said: [] as any[], current: null as HTMLMediaElement | null };
  w.__voice = log;
  const answering = () => document.querySelector("[data-testid='message'][data-role='assistant'].streaming") !== null;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
    const p = play.call(this);
    if (this.tagName === "AUDIO") {
      log.current = this;
      p.then(() => log.played.push({ t: performance.now(), answering: answering() }), () => {});
    }
    return p;
  };
  const pause = HTMLMediaElement.prototype.pause;
  HTMLMediaElement.prototype.pause = function (this: HTMLMediaElement) {
    if (this.tagName === "AUDIO" && !this.paused) log.paused.push(performance.now());
    return pause.call(this);
  };
  const fetch0 = window.fetch.bind(window);
  // gloo-net passes a Request (no init): its body is read from a clone.
  window.fetch = async (input: any, init?: any) => {
    const url = typeof input === "string" ? input : input.url;
    if (String(url).endsWith("/api/tts")) {
      const entry = { t: performance.now(), text: "", answering: answering() };
      log.tts.push(entry);
      try {
        const body = init?.body ?? (input instanceof Request ? await input.clone().text() : "{}");
        entry.text = JSON.parse(body).text;
      } catch {}
    }
    return fetch0(input, init);
  };
  let ctx: AudioContext | null = null;
  let gain: GainNode | null = null;
  let dest: MediaStreamAudioDestinationNode | null = null;
  const setup = () => {
    if (ctx) return;
    ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.type = "sawtooth";
    osc.frequency.value = 170;
    gain = ctx.createGain();
    gain.gain.value = 0;
    dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
  };
  w.__mic = {
    /** "Speaks" for `ms` milliseconds, from now. */
    say(ms: number) {
      setup();
      const t = ctx!.currentTime;
      gain!.gain.setValueAtTime(0.4, t);
      gain!.gain.setValueAtTime(0, t + ms / 1000);
      log.said.push({ t: performance.now(), playing: !!log.current && !log.current.paused && !log.current.ended });
    },
  };
  navigator.mediaDevices.getUserMedia = async (c?: MediaStreamConstraints) => {
    log.gum.push(c);
    if (opts.denied) throw new DOMException("Permission denied", "NotAllowedError");
    setup();
    await ctx!.resume();
    if (c && c.video) {
      const canvas = document.createElement("canvas");
      canvas.width = 320;
      canvas.height = 240;
      const g = canvas.getContext("2d")!;
      const paint = () => {
        g.fillStyle = `hsl(${(Date.now() / 20) % 360}, 60%, 50%)`;
        g.fillRect(0, 0, 320, 240);
      };
      paint();
      setInterval(paint, 100);
      return canvas.captureStream(10);
    }
    return new MediaStream(dest!.stream.getAudioTracks().map((t) => t.clone()));
  };
}

async function withFakeDevices(page: Page, opts: Options = {}) {
  await page.addInitScript(fakeDevices, opts);
}

const voiceLog = (page: Page) =>
  page.evaluate(() => {
    const { current, ...rest } = (window as any).__voice;
    return rest;
  });
const setRange = (page: Page, id: string, value: string) =>
  page.getByTestId(id).evaluate((el: HTMLInputElement, v) => {
    el.value = v;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
const say = (page: Page, ms: number) => page.evaluate((ms) => (window as any).__mic.say(ms), ms);
const callState = (page: Page) => page.getByTestId("call-view");
const lastAnswer = (page: Page) => page.locator("[data-testid='message'][data-role='assistant']").last();
const lastQuestion = (page: Page) => page.locator("[data-testid='message'][data-role='user']").last();

test("dictation writes what was said at the cursor; Esc and the shortcut; echo cancellation asked for", async ({ page }, info) => {
  await withFakeDevices(page);
  await signUpWithKey(page, "dictate", info);
  await page.goto("/");
  await hydrated(page);
  const bodies: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/api/transcribe")) bodies.push(r.headers()["content-type"] ?? "");
  });
  const input = page.getByTestId("composer-input");
  await input.fill("Question:");
  await page.getByTestId("dictate").click();
  await expect(page.getByTestId("dictation")).toHaveAttribute("data-state", "recording");
  await expect(page.getByTestId("dictation-status")).toContainText("Listening");
  await say(page, 800);
  // The level meter moves while the person speaks.
  await expect.poll(async () => Number(await page.getByTestId("dictation-level").evaluate((m: HTMLMeterElement) => m.value))).toBeGreaterThan(0.3);
  await shot(page, info, "dictation");
  await noHorizontalOverflow(page);
  await page.waitForTimeout(900);
  await page.getByTestId("dictation-done").click();
  await expect(page.getByTestId("dictation")).toHaveCount(0);
  await expect(input).toHaveValue(`Question: ${HEARD}`);
  await expect(input).toBeFocused();
  // One multipart upload of the recording; the server typed it by its bytes
  // (anything but audio is a 415), so what was sent is real audio.
  expect(bodies).toHaveLength(1);
  expect(bodies[0]).toMatch(/^multipart\/form-data; boundary=/);
  const gum = (await voiceLog(page)).gum[0];
  expect(gum.audio).toEqual({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });

  // Esc cancels: nothing is sent, the text stays as it was.
  await page.keyboard.press("Control+Alt+KeyD");
  await expect(page.getByTestId("dictation")).toHaveAttribute("data-state", "recording");
  await say(page, 500);
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("dictation")).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(bodies).toHaveLength(1);
  await expect(input).toHaveValue(`Question: ${HEARD}`);
});

test("a denied microphone is explained in a sentence, for dictation and for a call", async ({ page }, info) => {
  await withFakeDevices(page, { denied: true });
  await signUpWithKey(page, "denied", info);
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("dictate").click();
  await expect(page.getByTestId("voice-error")).toContainText("Access to the microphone was denied. Allow it for this site");
  await page.getByTestId("dictation-cancel").click();
  await expect(page.getByTestId("dictation")).toHaveCount(0);
  await page.getByTestId("voice-call").click();
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}\?call$/);
  await expect(callState(page)).toHaveAttribute("data-state", "failed");
  await expect(page.getByTestId("call-view").getByTestId("voice-error")).toContainText("microphone was denied");
  await shot(page, info, "call-denied");
  await page.getByTestId("call-end").click();
  await expect(page.getByTestId("call-view")).toHaveCount(0);
});

test("read aloud plays an answer sentence by sentence and stops when pressed again", async ({ page }, info) => {
  await withFakeDevices(page);
  await signUpWithKey(page, "aloud", info);
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("composer-input").fill("Read this");
  await page.getByTestId("composer-input").press("Enter");
  await expect(lastAnswer(page)).toContainText("That is all from the fake Mistral.", { timeout: 15_000 });
  const button = lastAnswer(page).getByTestId("read-aloud");
  await expect(button).toBeEnabled();
  await button.click();
  await expect(button).toHaveAttribute("aria-pressed", "true");
  await expect(button).toHaveText("Stop reading");
  // Both sentences are spoken, one request each, in order; then it is done.
  await expect(button).toHaveAttribute("aria-pressed", "false", { timeout: 15_000 });
  const log = await voiceLog(page);
  expect(log.tts.map((t: any) => t.text)).toEqual(["You said: Read this.", "That is all from the fake Mistral."]);
  expect(log.played.length).toBe(2);
  await expect(lastAnswer(page).getByTestId("voice-error")).toHaveCount(0);

  // Pressed again while reading: silence at once, the rest is not fetched.
  await button.click();
  await expect.poll(async () => (await voiceLog(page)).played.length).toBe(3);
  await button.click();
  await expect(button).toHaveAttribute("aria-pressed", "false");
  const after = await voiceLog(page);
  expect(after.paused.length).toBeGreaterThan(0);
  await page.waitForTimeout(2_500);
  expect((await voiceLog(page)).played.length).toBe(3);
});

test("a voice call: speech becomes a spoken message, the answer is spoken while it is written, barge-in, mute, end", async ({ page }, info) => {
  await withFakeDevices(page);
  await signUpWithKey(page, "call", info);
  await page.goto("/");
  await hydrated(page);
  const stops: number[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/rpc/stop_generation")) stops.push(Date.now());
  });
  // From a new chat: a thread is made and its page opens the call.
  await page.getByTestId("voice-call").click();
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}\?call$/);
  await expect(callState(page)).toHaveAttribute("data-state", "listening");
  await expect(page.getByTestId("call-state")).toHaveText("Listening");
  await noHorizontalOverflow(page);

  // One turn: speech, then the end-of-turn silence.
  await say(page, 900);
  await expect(callState(page)).toHaveAttribute("data-state", "hearing");
  await expect(callState(page)).toHaveAttribute("data-state", /transcribing|thinking|speaking/, { timeout: 5_000 });
  await expect(lastQuestion(page)).toContainText("Tell me about Paris.");
  await expect(lastQuestion(page).getByTestId("spoken-mark")).toBeVisible();
  // The first sentence goes to speech, and plays, while the answer is still written.
  await expect.poll(async () => (await voiceLog(page)).played.length, { timeout: 15_000 }).toBeGreaterThan(0);
  const log = await voiceLog(page);
  expect(log.tts.length).toBeGreaterThan(0);
  expect(log.tts[0].answering).toBe(true);
  expect(log.played[0].answering).toBe(true);
  await expect(callState(page)).toHaveAttribute("data-state", "speaking");
  await expect(page.getByTestId("call-latency")).toHaveText(/^transcript \d+\.\d\d s · first token \d+\.\d\d s · first audio \d+\.\d\d s$/);
  await expect(page.getByTestId("call-transcript").locator("li")).toHaveCount(2);
  // For docs/benchmarks.md (Voice): where one turn's time went on this machine.
  console.log(`[voice latency ${info.project.name}] ${await page.getByTestId("call-latency").textContent()}`);
  await shot(page, info, "call-speaking");

  // Barge-in: speaking over the answer silences it within ~200 ms, stops
  // the generation (the partial answer stays, marked stopped) and listens.
  const before = (await voiceLog(page)).paused.length;
  await say(page, 900);
  await expect(callState(page)).toHaveAttribute("data-state", "hearing", { timeout: 2_000 });
  await page.waitForTimeout(1_000);
  const barge = await voiceLog(page);
  const saidAt = barge.said[barge.said.length - 1];
  if (saidAt.playing) {
    expect(barge.paused.length).toBeGreaterThan(before);
    expect(barge.paused[barge.paused.length - 1] - saidAt.t).toBeLessThan(400);
  }
  // Nothing more of that answer plays.
  expect(barge.played.filter((p: any) => p.t > saidAt.t + 300)).toHaveLength(0);
  await expect.poll(() => stops.length).toBeGreaterThan(0);
  const stopped = page.locator("[data-testid='message'][data-role='assistant']").first();
  await expect(stopped.locator(".message-status")).toBeVisible();
  // The interruption is the next question.
  await expect(page.locator("[data-testid='message'][data-role='user']")).toHaveCount(2, { timeout: 10_000 });

  // Mute: nothing is heard or sent while muted.
  await expect(callState(page)).toHaveAttribute("data-state", /thinking|speaking/, { timeout: 10_000 });
  await page.getByTestId("call-mute").click();
  await expect(callState(page)).toHaveAttribute("data-state", "muted");
  await expect(page.getByTestId("call-state")).toHaveText("Muted");
  await say(page, 900);
  await page.waitForTimeout(2_000);
  await expect(page.locator("[data-testid='message'][data-role='user']")).toHaveCount(2);
  await page.getByTestId("call-mute").click();
  await expect(callState(page)).toHaveAttribute("data-state", "listening");

  // End: the view closes and the tab forgets the call.
  await page.getByTestId("call-end").click();
  await expect(page.getByTestId("call-view")).toHaveCount(0);
  expect(await page.evaluate(() => sessionStorage.getItem("mistralchat.call"))).toBeNull();
});

test("a video call attaches the camera frame to the spoken message; a reload rejoins the call paused", async ({ page }, info) => {
  await withFakeDevices(page);
  await signUpWithKey(page, "video", info);
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("voice-call").click();
  await expect(callState(page)).toHaveAttribute("data-state", "listening");
  await page.getByTestId("call-camera-toggle").click();
  await expect(page.getByTestId("call-camera")).toBeVisible();
  await expect.poll(() => page.getByTestId("call-camera").evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(0);
  await say(page, 900);
  await expect(lastQuestion(page)).toContainText("Tell me about Paris.", { timeout: 10_000 });
  await expect(lastQuestion(page).getByTestId("attachment-image")).toBeVisible();
  await shot(page, info, "video-call");
  // Only one frame per utterance: nothing between utterances.
  const files = await page.request.get("/api/files/usage");
  expect(files.status()).toBe(200);

  // A hidden page (another tab, a locked screen) pauses the call; one tap resumes.
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { value: true, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await expect(callState(page)).toHaveAttribute("data-state", "paused");
  await expect(page.getByTestId("call-state")).toHaveText("Call paused");
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { value: false, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.getByTestId("call-resume").click();
  await expect(callState(page)).toHaveAttribute("data-state", /listening|speaking|thinking/);

  // A reload rejoins the call in this thread (paused until a tap where the
  // browser wants one before sound).
  await page.reload();
  await hydrated(page);
  await expect(callState(page)).toHaveAttribute("data-state", /paused|listening|speaking|thinking/);
  if ((await callState(page).getAttribute("data-state")) === "paused") await page.getByTestId("call-resume").click();
  await expect(callState(page)).toHaveAttribute("data-state", /listening|speaking|thinking/);
  await page.getByTestId("call-end").click();
  await expect(page.getByTestId("call-view")).toHaveCount(0);
});

test("Settings → Voice saves the voice, language, speed, silence and barge-in", async ({ page }, info) => {
  await withFakeDevices(page);
  await signUpWithKey(page, "voiceset", info);
  await page.goto("/settings/voice");
  await hydrated(page);
  const form = page.getByTestId("voice-settings");
  await expect(form).toBeVisible();
  // The voices come from the fake's catalogue.
  expect(await page.getByTestId("voice-id").locator("option").count()).toBeGreaterThan(1);
  const voice = await page.getByTestId("voice-id").locator("option").nth(1).getAttribute("value");
  await page.getByTestId("voice-id").selectOption(voice!);
  await page.getByTestId("voice-language").selectOption("fr");
  await setRange(page, "voice-speed", "1.5");
  await setRange(page, "voice-silence", "1200");
  await page.getByTestId("voice-barge-in").uncheck();
  await page.getByTestId("voice-save").click();
  await expect(page.getByTestId("voice-saved")).toHaveText("Saved.");
  await noHorizontalOverflow(page);
  await shot(page, info, "settings-voice");
  const s = await (await page.request.get("/api/settings")).json();
  expect(s).toMatchObject({ voiceId: voice, voiceLanguage: "fr", voiceSpeed: 1.5, voiceSilenceMs: 1200, voiceBargeIn: false });
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("voice-language")).toHaveValue("fr");
  await expect(page.getByTestId("voice-barge-in")).not.toBeChecked();
  // A sample is read with what is saved.
  await page.getByTestId("voice-sample").click();
  await expect.poll(async () => (await voiceLog(page)).played.length).toBeGreaterThan(0);
});
