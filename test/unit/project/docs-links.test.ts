/**
 * The documentation can be walked: every relative link in README.md and
 * docs/*.md reaches a file of the repository (and a heading, when it names
 * one), every repository path the pages name in code exists, every
 * `README "Heading"` / `docs/<page>.md "Heading"` citation in a tracked file
 * names a heading that is there, and nothing cites a file outside the
 * repository (a reader of a clone has nothing else).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import GithubSlugger from "github-slugger";
import { Lexer, walkTokens, type Token, type Tokens } from "marked";

/**
 * Pages other branches are writing at the same time, linked to already:
 * their links may dangle until those branches land. Remove a page from this
 * list once it is in the repository.
 */
const PAGES_IN_PROGRESS = new Set<string>();

/** Pages that record runs as they were: their history names files that have since moved. */
const HISTORY_PAGES = new Set(["docs/benchmarks.md"]);

const PAGES = [
  "README.md",
  ...readdirSync("docs")
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

function tokensOf(page: string): Token[] {
  return new Lexer({ gfm: true }).lex(readFileSync(page, "utf8"));
}

/** The text a reader sees of inline tokens: what GitHub makes a heading's anchor from. */
function plainText(tokens: Token[] | undefined): string {
  return (tokens ?? []).map((t) => ("tokens" in t && t.tokens ? plainText(t.tokens) : "text" in t ? String(t.text) : "")).join("");
}

/** The anchors GitHub gives a page's headings (duplicates get -1, -2…). */
function anchorsOf(page: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walkTokens(tokensOf(page), (t) => {
    if (t.type === "heading") anchors.add(slugger.slug(plainText((t as Tokens.Heading).tokens)));
  });
  return anchors;
}

function headingsOf(page: string): string[] {
  const headings: string[] = [];
  walkTokens(tokensOf(page), (t) => {
    if (t.type === "heading") headings.push(plainText((t as Tokens.Heading).tokens));
  });
  return headings;
}

/** Links and inline code spans of a page; fenced code blocks hold neither. */
function linksAndCodeOf(page: string): { links: string[]; code: string[] } {
  const links: string[] = [];
  const code: string[] = [];
  walkTokens(tokensOf(page), (t) => {
    if (t.type === "link" || t.type === "image") links.push((t as Tokens.Link).href);
    if (t.type === "codespan") code.push((t as Tokens.Codespan).text);
  });
  return { links, code };
}

/** A relative link's problem, or undefined when it reaches its file (and heading). */
function brokenLink(page: string, href: string): string | undefined {
  const [path = "", anchor] = href.split("#", 2);
  const target = path === "" ? page : normalize(join(dirname(page), decodeURIComponent(path)));
  if (PAGES_IN_PROGRESS.has(target)) return undefined;
  if (!existsSync(target)) return `${href}: no file ${target}`;
  if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(target).has(anchor)) return `${href}: no heading #${anchor} in ${target}`;
  return undefined;
}

function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z"], { encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(f));
}

describe("the documentation's links", () => {
  it("every relative link in README.md and docs/*.md reaches a file of the repository, and the heading it names", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const href of linksAndCodeOf(page).links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:: not ours to check offline
        const problem = brokenLink(page, href);
        if (problem) broken.push(`${page}: ${problem}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it("every repository path the pages name in code (`src/…`, `test/…`) exists", () => {
    const missing: string[] = [];
    for (const page of PAGES.filter((p) => !HISTORY_PAGES.has(p))) {
      for (const span of linksAndCodeOf(page).code) {
        // A path alone in its span, without placeholders (`test/integration/<file>`, `faults-*.test.ts`).
        if (!/^(?:bin|bench|connectors|demo|docs|prisma|scripts|src|test)\/[\w./-]+$/.test(span)) continue;
        if (!existsSync(span) && !PAGES_IN_PROGRESS.has(span)) missing.push(`${page}: ${span}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe("citations in the repository's files", () => {
  // This file names what it looks for.
  const self = "test/unit/project/docs-links.test.ts";
  const files = trackedFiles().filter((f) => f !== self && !f.endsWith("package-lock.json"));

  it('every `README "Heading"` or `docs/<page>.md "Heading"` names a heading of that page', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\b(README(?:\.md)?|docs\/[\w-]+\.md) "([^"]+)"/g)) {
        const page = m[1]!.startsWith("README") ? "README.md" : m[1]!;
        // A citation may run over a comment's line break: `"Try it\n  # in two minutes"`.
        const heading = m[2]!.replace(/\s*\n\s*(?:#|\/\/|\*)?\s*/g, " ");
        if (PAGES_IN_PROGRESS.has(page) && !existsSync(page)) continue;
        if (!existsSync(page)) wrong.push(`${file}: ${m[0]}: no such page`);
        else if (!headingsOf(page).some((h) => h.startsWith(heading))) wrong.push(`${file}: ${m[0]}: no such heading`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("no tracked file cites a file outside the repository (the design and style notes, ../shared)", () => {
    const outside = /\b(?:DESIGN|STYLE)\.md\b|\.\.\/shared(?![\w-])|\/work\/shared\b/;
    const citing = files.filter((f) => outside.test(readFileSync(f, "utf8"))).map((f) => `${f}: ${readFileSync(f, "utf8").match(outside)![0]}`);
    assert.deepEqual(citing, []);
  });
});
