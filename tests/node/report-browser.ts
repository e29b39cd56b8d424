// Opens a report in headless Chromium and returns what a reader would see: console errors,
// failed requests, the number of charts and images, and the share of coloured pixels in
// screenshots of its sections. Charts are coloured and the page around them is black on white.
import { decode } from 'fast-png';
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ReportView {
  consoleErrors: string[];
  requests: string[];
  svgCount: number;
  imageCount: number;
  /** Share of clearly coloured pixels in a screenshot of each section, by section id. */
  colourBySection: Record<string, number>;
  sections: string[];
}

function colourShare(png: Uint8Array): number {
  const image = decode(png);
  const channels = image.channels;
  const pixels = image.data;
  let coloured = 0;
  const count = image.width * image.height;
  for (let i = 0; i < count; i++) {
    const r = pixels[i * channels];
    const g = pixels[i * channels + 1];
    const b = pixels[i * channels + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  return coloured / count;
}

export async function viewReport(path: string, sections: string[]): Promise<ReportView> {
  // The report must not need the network: every request other than the file itself is recorded and aborted.
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    const url = pathToFileURL(path).href;
    await page.route('**/*', (route) => {
      const requested = route.request().url();
      if (requested === url || requested.startsWith('data:')) return route.continue();
      requests.push(requested);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load' });
    const svgCount = await page.locator('svg').count();
    const imageCount = await page.locator('img').count();
    const found = await page.locator('section').evaluateAll((els) => els.map((e) => e.id));
    const colourBySection: Record<string, number> = {};
    for (const id of sections) {
      const element = page.locator(`section#${id}`);
      if ((await element.count()) === 0) continue;
      colourBySection[id] = colourShare(await element.screenshot());
    }
    return { consoleErrors, requests, svgCount, imageCount, colourBySection, sections: found };
  } finally {
    await browser.close();
  }
}
