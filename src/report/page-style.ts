/** The report pages' CSS (inlined into each page's <style> element by html.ts), and the color both the page and its script give to full scores. */

/** The color of cases that scored 1.0 (tables, bars and the failure chart). */
export const FULL_COLOR = '#a1d99b';

export const STYLE = `
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --accent: #1f77b4; --star: #d97706; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; word-break: break-all; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 22px; font-weight: 600; margin: 2px 0; }
.card .d { color: var(--muted); font-size: 12.5px; }
.chart { position: relative; height: 380px; }
.chart.small { height: 300px; }
.note { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
table { border-collapse: collapse; }
table.data { width: 100%; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
table.data th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.sel td { background: #fff7e6; }
.star { color: var(--star); font-weight: 700; }
.tag { display: inline-block; font-size: 11.5px; padding: 1px 6px; border-radius: 10px; background: #eef2f6; color: #344054; margin: 0 4px 2px 0; white-space: nowrap; }
.tag.ok { background: #dcfce7; color: #166534; }
.tag.no { background: #fee2e2; color: #991b1b; }
.scroll { overflow-x: auto; }
table.heat { font-size: 12px; }
table.heat th, table.heat td { padding: 0; }
table.heat thead th { font-weight: 600; color: var(--muted); padding: 2px 3px 4px; text-align: center; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.heat thead th.selcol { color: var(--star); }
table.heat th.case { text-align: left; font-weight: normal; padding: 1px 10px 1px 14px; white-space: nowrap; max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
table.heat tr.cat th { text-align: left; padding: 8px 10px 2px 0; font-weight: 600; }
table.heat tr.cat td { font-size: 11px; color: var(--muted); text-align: center; padding: 8px 0 2px; }
table.heat tr.overall th { text-align: left; padding: 2px 10px 4px 0; font-weight: 600; }
table.heat tr.overall td { font-size: 11px; text-align: center; font-weight: 600; padding: 2px 0 4px; }
table.heat td.c { min-width: 30px; height: 20px; text-align: center; border: 1px solid #fff; font-variant-numeric: tabular-nums; }
table.heat td.c.none { background: #f1f3f5; color: #adb5bd; }
table.heat td.selcol { box-shadow: inset 2px 0 0 var(--star), inset -2px 0 0 var(--star); }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 10px 0 0; }
.legend i { display: inline-block; width: 14px; height: 12px; vertical-align: -2px; margin-right: 4px; border-radius: 2px; }
.mixbar { display: flex; height: 12px; width: 160px; border-radius: 3px; overflow: hidden; background: #f1f3f5; margin-top: 3px; }
.mixbar span { display: block; height: 100%; }
pre { background: #f6f8fa; padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
details summary { cursor: pointer; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; word-break: break-all; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
svg text { font: 12px sans-serif; fill: #475467; }
`;
