// Drives /demo/verifier in the system Chromium (headless) for
// tests/it/demo_page.rs. Protocol: JSON lines on stdout, one command line
// per step on stdin. The first page is opened as a Russian browser
// (locale ru-RU, so `Accept-Language: ru-RU`) with the page's clock faked
// (it still flows in real time until the test jumps it).
//   -> {"step":"page","lang":…,"heading":…,"party":…,"options":[…],"other":[…]}
//   -> {"step":"countdown","visible":…,"beside":…,"first":n,"second":m}
//   -> {"step":"qr","link":…,"png":<base64 screenshot of the QR>}
//   <- "tick"      (the page's clock jumps 31 s: its own countdown ends)
//   -> {"step":"qr",…}            a new QR replaced the old one
//   <- "next"      (the test expired the request on the server clock)
//   -> {"step":"qr",…}            a new QR replaced the old one
//   <- "answered"  (the test answered the new request as a wallet)
//   -> {"step":"claims","status":…,"text":…,"claims":[[name, value], …]}
//   -> {"step":"page",…}          an English browser (locale en-US)
//   -> {"step":"override","lang":…}   the English browser at ?lang=ru
//   -> {"step":"switched","lang":…}   after a click on the other language
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"],
});

// What the page says about itself once its first QR is shown.
const describe = async (page) => {
  await page.waitForSelector("#qr svg", { timeout: 20000 });
  return page.evaluate(() => ({
    step: "page",
    lang: document.documentElement.lang,
    heading: document.querySelector("h1").textContent,
    party: document.querySelector("#party strong").textContent,
    options: [...document.querySelectorAll("#preset option")].map((o) => o.textContent),
    other: [...document.querySelectorAll("nav a")].map((a) => a.getAttribute("href")),
  }));
};

try {
  const ru = await browser.newContext({ locale: "ru-RU", viewport: { width: 900, height: 900 } });
  const page = await ru.newPage();
  await page.clock.install();
  await page.goto(base + "/demo/verifier");
  say(await describe(page));

  // The countdown: visible, beside the QR, counting down in real time.
  const seconds = () => page.$eval("#countdown", (e) => Number(e.textContent));
  await page.waitForFunction(() => document.getElementById("countdown").textContent !== "");
  const first = await seconds();
  await sleep(2300);
  const second = await seconds();
  const q = await page.locator("#qr svg").boundingBox();
  const c = await page.locator("#countdown").boundingBox();
  say({
    step: "countdown",
    visible: await page.locator("#countdown").isVisible(),
    beside: c.x >= q.x + q.width && c.y < q.y + q.height && c.y + c.height > q.y,
    first,
    second,
  });

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
  const link1 = await qr("");
  await expect("tick");
  await page.clock.fastForward(31000);
  const link2 = await qr(link1);
  await expect("next");
  await qr(link2);
  await expect("answered");
  await page.waitForFunction(() => document.querySelectorAll("#claims dt").length > 0, null, { timeout: 20000 });
  const claims = await page.$$eval("#claims dt", (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent]));
  const status = await page.$eval("#status", (e) => e.dataset.status);
  const text = await page.$eval("#status", (e) => e.textContent);
  say({ step: "claims", status, text, claims });

  // An English browser; then the same browser asking for Russian; then a
  // click on the switch.
  const en = await browser.newContext({ locale: "en-US" });
  const p2 = await en.newPage();
  await p2.goto(base + "/demo/verifier");
  say(await describe(p2));
  await p2.goto(base + "/demo/verifier?lang=ru");
  await p2.waitForSelector("#qr svg", { timeout: 20000 });
  say({ step: "override", lang: await p2.evaluate(() => document.documentElement.lang) });
  await Promise.all([p2.waitForEvent("load"), p2.click("nav a[hreflang=en]")]);
  say({ step: "switched", lang: await p2.evaluate(() => document.documentElement.lang) });
} finally {
  rl.close();
  await browser.close();
}
process.exit(0);
