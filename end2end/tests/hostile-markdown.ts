// Hostile markdown for the browser tests: a sample of the generated corpus of
// the renderer's unit tests (app/src/markdown/tests.rs), constructs nested in
// constructs with payloads in destinations, titles, alt text and text. Every
// payload sets `window.__xss` and opens a dialog if it ever runs.

/** Each sets `window.__xss` and opens a dialog if it ever runs. */
export const RUN = "window.__xss=1;alert(1)";
const PAYLOADS = [
  `<img src=x onerror=${RUN}>`,
  `" onerror="${RUN}" x="`,
  `' onerror='${RUN}' x='`,
  `/x onerror=${RUN}//`,
  `javascript:${RUN}`,
  `JaVaScRiPt:${RUN}`,
  `&#106;avascript:${RUN}`,
  `<script>${RUN}</script>`,
  `data:text/html,<script>${RUN}</script>`,
  `vbscript:msgbox(1)`,
  `&quot; onmouseover=${RUN} &quot;`,
];

type Construct = (inner: string, p: string) => string;
const CONSTRUCTS: [string, Construct][] = [
  ["link", (i, p) => `[${i}](${p} "${p}")`],
  ["link-angle", (i, p) => `[${i}](<${p}>)`],
  ["link-title", (i, p) => `[${i}](https://ok.example/ "${p}")`],
  ["image", (i, p) => `![${i}](/nope-${Math.abs(p.length)}.png "${p}")`],
  ["image-blocked", (i) => `![${i}](https://evil.example/p.png)`],
  ["code", (i) => `\`${i}\``],
  ["math", (i) => `$${i}$`],
  ["emphasis", (i) => `*${i}*`],
  ["strong", (i) => `**${i}**`],
  ["autolink", (i, p) => `<https://ok.example/${p}${i}>`],
  ["bare-url", (i, p) => `see https://ok.example/${p}${i} now`],
  ["table-cell", (i) => `| a | b |\n|---|---|\n| ${i} | x |\n`],
  ["heading", (i) => `# ${i}\n`],
  ["list-item", (i) => `- ${i}\n`],
  ["block-quote", (i) => `> ${i}\n`],
  ["html-inline", (i, p) => `<span title="${p}">${i}</span>`],
  ["entity", (i) => `&quot;&#x27;&lt;${i}&gt;&#106;`],
  ["footnote", (i, p) => `${i}[^1]\n\n[^1]: ${p}\n`],
];

/** Every construct in every other with a rotating payload, sampled evenly, plus
 * the cases that broke out of an image's alt attribute before the fix. */
export function hostileCases(): string[] {
  const all: string[] = [];
  CONSTRUCTS.forEach(([, outer], a) =>
    CONSTRUCTS.forEach(([, inner], b) => {
      const p = PAYLOADS[(a * CONSTRUCTS.length + b) % PAYLOADS.length];
      all.push(outer(inner(p, p), p));
    }),
  );
  const sample = all.filter((_, k) => k % 11 === 0); // 30 of 324
  return [
    `![a [l](</x onerror=${RUN}//>) b](/nope.png)`,
    `![a $x$ [l](</x onerror=${RUN}//>)](/nope.png)`,
    `![\`c\` [l](</x onerror=${RUN}//>)](https://evil.example/p.png)`,
    ...sample,
  ];
}
