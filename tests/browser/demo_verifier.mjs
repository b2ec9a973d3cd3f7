// Drives /demo/verifier in the system Chromium (headless) for
// tests/it/demo_page.rs. Protocol: JSON lines on stdout, one command line
// per step on stdin.
//   -> {"step":"qr","link":…,"png":<base64 screenshot of the QR>}
//   <- "next"      (the test expired the request on the server clock)
//   -> {"step":"qr",…}            a new QR replaced the old one
//   <- "answered"  (the test answered the new request as a wallet)
//   -> {"step":"claims","status":…,"claims":[[name, value], …]}
import { chromium } from "playwright-core";
import readline from "node:readline";

const base = process.argv[2];
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const expect = async (word) => {
  const { value } = await lines.next();
  if (value !== word) throw new Error(`expected ${word}, got ${value}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await page.goto(base + "/demo/verifier");
  const qr = async (previous) => {
    await page.waitForFunction(
      (prev) => {
        const l = document.getElementById("qr").dataset.authorizationRequest;
        return l && l.startsWith("openid4vp://") && l !== prev && document.querySelector("#qr svg");
      },
      previous, { timeout: 20000 });
    const link = await page.$eval("#qr", (e) => e.dataset.authorizationRequest);
    const png = (await page.locator("#qr svg").screenshot()).toString("base64");
    say({ step: "qr", link, png });
    return link;
  };
  const first = await qr("");
  await expect("next");
  await qr(first);
  await expect("answered");
  await page.waitForFunction(() => document.querySelectorAll("#claims dt").length > 0, null, { timeout: 20000 });
  const claims = await page.$$eval("#claims dt", (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent]));
  const status = await page.$eval("#status", (e) => e.textContent);
  say({ step: "claims", status, claims });
} finally {
  rl.close();
  await browser.close();
}
process.exit(0);
