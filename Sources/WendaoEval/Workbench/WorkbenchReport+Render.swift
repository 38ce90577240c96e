import Foundation

extension WorkbenchReport {
    /// Columns of the terminal table: metric and heading.
    static let tableColumns: [(String, String)] = [
        ("accuracy", "acc"), ("gold_contained", "gold"), ("f1", "F1"), ("exact_match", "EM"), ("hit@k", "hit@k"),
        ("mrr", "MRR"), ("context_recall", "ctx"), ("citation_precision", "citeP"), ("citation_recall", "citeR"),
        ("false_refusal", "falseNF"), ("correct_refusal", "NF-ok"), ("judge_score", "judge"),
        ("latency_p50_ms", "p50 ms"), ("completion_tokens", "out tok"), ("cost", "cost"), ("errors", "err"),
    ]

    /// A value as tables show it.
    static func shown(_ metric: String, _ v: Double?) -> String {
        guard let v else { return "–" }
        switch metric {
        case "errors", "prompt_tokens", "completion_tokens", "judge_unscored": return String(Int(v))
        case "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms":
            return v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v)
        case "cost": return v >= 1 ? String(format: "%.2f", v) : String(format: "%.4f", v)
        case "judge_score", "judge_faithfulness", "judge_relevance", "judge_correctness":
            return String(format: "%.2f", v)
        default: return String(format: "%.3f", v)
        }
    }

    /// Columns shown for this report: those some variant has a value for.
    var shownColumns: [(String, String)] {
        Self.tableColumns.filter { c in variants.contains { $0.metrics[c.0] != nil } }
    }

    /// The terminal table: one row per variant, then the comparisons with their intervals.
    public var table: String {
        let columns = shownColumns
        var rows: [[String]] = [["variant", "n"] + columns.map(\.1)]
        for v in variants {
            rows.append([v.name, String(v.answered)] + columns.map { Self.shown($0.0, v.metrics[$0.0]) })
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for r in rows { for (i, cell) in r.enumerated() { widths[i] = max(widths[i], Self.displayWidth(cell)) } }
        var lines: [String] = []
        for (k, r) in rows.enumerated() {
            let cells = r.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - Self.displayWidth(cell))
                return i == 0 ? cell + pad : pad + cell
            }
            lines.append(cells.joined(separator: "  "))
            if k == 0 { lines.append(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")) }
        }
        var out = lines.joined(separator: "\n") + "\n"
        out += "\(questionsTotal ?? questions.count) questions from \(testSet) · kb \(kb)"
        if let spent { out += " · spent " + Self.shown("cost", spent) }
        if resumed > 0 { out += " · \(resumed) answers resumed" }
        out += "\n"
        for c in comparisons {
            let verdict = c.significant ? (c.difference > 0 ? "better" : "worse") : "no significant difference"
            out += String(
                format: "%@ vs %@: %@ %+.3f (95%% CI %+.3f … %+.3f, %d questions): %@\n", c.b, c.a, c.metric,
                c.difference, c.ciLow, c.ciHigh, c.questions, verdict)
        }
        if let p = pairwise {
            out += String(
                format: "judge, %@ vs %@ (positions swapped): %@ wins %d, %@ wins %d, ties %d · %@ win rate %.3f\n",
                p.b,
                p.a, p.b, p.bWins, p.a, p.aWins, p.ties, p.b, p.bWinRate)
        }
        if let stopped { out += "stopped: \(stopped)\n" }
        return out
    }

    /// Terminal columns of `s` (CJK and full-width characters take two).
    static func displayWidth(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { w, u in
            let v = u.value
            let wide =
                (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v)
            return w + (wide ? 2 : 1)
        }
    }

    // MARK: - HTML

    /// The report as one self-contained HTML page: no script, no network, inline SVG charts (metric bars
    /// per variant, quality against cost, latency) and a drill-down per question with each variant's
    /// answer, sources and judge's reason side by side; with `baseline`, what changed since.
    public func html(baseline: WorkbenchReport? = nil, regressions: [Regression] = []) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Wendao evaluation · \(esc(suite))</title>
            <style>
            body{font:14px/1.5 system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
            .meta{color:#5b6475}.warn{background:#fff4e5;border:1px solid #f0b45b;padding:8px 12px;border-radius:6px}
            .bad{background:#fdecec;border:1px solid #e58c8c;padding:8px 12px;border-radius:6px}
            table{border-collapse:collapse;background:#fff}th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:right;vertical-align:top}
            th:first-child,td:first-child{text-align:left}th{background:#f0f2f6}
            .charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px}
            details.q{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:6px 0;padding:6px 10px}
            details.q>summary{cursor:pointer}.chip{display:inline-block;border-radius:4px;padding:0 6px;margin-left:4px;font-size:12px}
            .ok{background:#e3f5e8;color:#17622f}.no{background:#fde8e8;color:#8c1d1d}.err{background:#eee;color:#444}
            .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:10px;margin-top:8px}
            .cell{border:1px solid #e6e9ef;border-radius:6px;padding:8px;background:#fcfcfd}
            .cell h4{margin:0 0 4px;font-size:13px}.answer{white-space:pre-wrap}.small{font-size:12px;color:#5b6475}
            .src{font-size:12px;border-left:3px solid #c9d2e3;padding-left:6px;margin:4px 0;white-space:pre-wrap}
            .changed{border-color:#f0b45b}.wide{overflow-x:auto}
            </style></head><body>
            <h1>Evaluation: \(esc(suite))</h1>
            <div class="meta">knowledge base <b>\(esc(kb))</b> · test set \(esc(testSet)) · \(questions.count) questions · \(esc(createdAt))\(rubric.map { " · judge \(esc(judgeModel ?? "")) (\(esc($0)))" } ?? "")\(spent.map { " · spent \(Self.shown("cost", $0))" } ?? "")</div>

            """
        if let stopped { h += "<p class=\"warn\">The run stopped early: \(esc(stopped)).</p>\n" }
        if !regressions.isEmpty {
            h += "<div class=\"bad\"><b>Regressions since the baseline</b><ul>"
            for r in regressions {
                h +=
                    "<li>\(esc(r.variant)): \(esc(r.metric)) \(Self.shown(r.metric, r.baseline)) → \(Self.shown(r.metric, r.current))"
                if !r.worse.isEmpty { h += " (worse: \(esc(r.worse.prefix(20).joined(separator: ", "))))" }
                h += "</li>"
            }
            h += "</ul></div>\n"
        }
        // Table.
        let columns = shownColumns
        h += "<h2>Variants</h2>\n<div class=\"wide\"><table><tr><th>variant</th><th>model</th><th>prompt</th>"
        h += "<th>top k</th><th>n</th>"
        h += columns.map { "<th>\(esc($0.1))</th>" }.joined() + "</tr>\n"
        for v in variants {
            h += "<tr><td>\(esc(v.name))</td><td>\(esc(v.model))</td>"
            h += "<td>\(v.prompt.map { "\(esc($0.name)) <span class=\"small\">\(esc($0.version))</span>" } ?? "–")</td>"
            h += "<td>\(v.retrieval.topK)</td><td>\(v.answered)</td>"
            h += columns.map { "<td>\(Self.shown($0.0, v.metrics[$0.0]))</td>" }.joined() + "</tr>\n"
        }
        h += "</table></div>\n"
        if !comparisons.isEmpty {
            h += "<h2>Differences (paired bootstrap, 95 % interval)</h2>\n<table><tr><th>variant</th><th>against</th>"
            h += "<th>metric</th><th>difference</th><th>interval</th><th>questions</th><th>verdict</th></tr>\n"
            for c in comparisons {
                let verdict = c.significant ? (c.difference > 0 ? "better" : "worse") : "not significant"
                h += "<tr><td>\(esc(c.b))</td><td>\(esc(c.a))</td><td>\(esc(c.metric))</td>"
                h += String(format: "<td>%+.3f</td><td>%+.3f … %+.3f</td>", c.difference, c.ciLow, c.ciHigh)
                h += "<td>\(c.questions)</td><td>\(verdict)</td></tr>\n"
            }
            h += "</table>\n"
        }
        if let p = pairwise {
            h +=
                "<p>Judge, head to head (each question asked twice, positions swapped): <b>\(esc(p.b))</b> wins \(p.bWins), "
            h += "<b>\(esc(p.a))</b> wins \(p.aWins), ties \(p.ties)"
            h += String(format: " · %@ win rate %.3f</p>\n", esc(p.b), p.bWinRate)
        }
        // Charts.
        h += "<h2>Charts</h2>\n<div class=\"charts\">\n"
        for metric in ["accuracy", "f1", "hit@k", "citation_precision", "judge_score"]
        where variants.contains(where: { $0.metrics[metric] != nil }) {
            h += bars(metric, maximum: metric == "judge_score" ? 5 : 1)
        }
        h += scatter()
        if variants.contains(where: { $0.metrics["latency_p50_ms"] != nil }) {
            let top = variants.compactMap { $0.metrics["latency_p95_ms"] }.max() ?? 1
            h += bars("latency_p50_ms", maximum: max(top, 1))
        }
        h += "</div>\n"
        // Questions.
        let before = baseline.map { b in
            Dictionary(b.questions.map { ($0.testCase.id, $0) }, uniquingKeysWith: { a, _ in a })
        }
        h +=
            "<h2>Questions</h2>\n<p class=\"small\">Open a question to see each variant's answer, its sources and the judge's reason"
        h += baseline == nil ? ".</p>\n" : ", and what changed since the baseline (outlined).</p>\n"
        if let total = questionsTotal, total > questions.count {
            h +=
                "<p class=\"small\">The first \(questions.count) of \(total) questions are listed; the figures above "
                + "cover all of them, and every answer is in the results file.</p>\n"
        }
        for q in questions {
            let c = q.testCase
            // Variants with the same retrieval saw the same passages: listed once, under the question.
            let lists = variants.compactMap { v in
                q.results[v.name].flatMap {
                    $0.error == nil ? $0.retrieved.map { "\($0.document)\u{1F}\($0.section)" } : nil
                }
            }
            let sharedRetrieval = lists.count > 1 && Set(lists).count == 1
            h += "<details class=\"q\" id=\"q-\(esc(c.id))\"><summary><b>\(esc(c.id))</b> \(esc(c.question))"
            for v in variants {
                guard let r = q.results[v.name] else { continue }
                if r.error != nil {
                    h += "<span class=\"chip err\" title=\"\(esc(v.name))\">\(esc(v.name)): error</span>"
                } else {
                    let ok = (r.metrics?.correct ?? 0) >= 1
                    h +=
                        "<span class=\"chip \(ok ? "ok" : "no")\" title=\"\(esc(v.name))\">\(esc(v.name)) \(ok ? "✓" : "✗")</span>"
                }
            }
            h += "</summary>\n<div class=\"small\">"
            h += c.answerable ? "answerable" : "not answerable by the documents"
            if let r = c.reference { h += " · reference: \(esc(r))" }
            if !c.gold.isEmpty { h += " · gold: \(esc(c.gold.joined(separator: " | ")))" }
            if !c.documents.isEmpty { h += " · documents: \(esc(c.documents.joined(separator: ", ")))" }
            if !c.tags.isEmpty { h += " · tags: \(esc(c.tags.joined(separator: ", ")))" }
            h += "</div>\n"
            if sharedRetrieval, let first = variants.lazy.compactMap({ q.results[$0.name] }).first {
                h += Self.retrievedList(first.retrieved, note: " by every variant")
            }
            h += "<div class=\"grid\">\n"
            for v in variants {
                guard let r = q.results[v.name] else { continue }
                let old = before?[c.id]?.results[v.name]
                let changed = old != nil && (old?.answer != r.answer || old?.metrics?.correct != r.metrics?.correct)
                h += "<div class=\"cell\(changed ? " changed" : "")\"><h4>\(esc(v.name))</h4>\n"
                if let e = r.error {
                    h += "<div class=\"no\">failed: \(esc(e))</div></div>\n"
                    continue
                }
                h += "<div class=\"answer\">\(esc(r.answer))</div>\n"
                if let m = r.metrics {
                    var parts: [String] = []
                    if let x = m.goldContained { parts.append("gold \(Int(x))") }
                    if let x = m.f1 { parts.append(String(format: "F1 %.2f", x)) }
                    if let x = m.hit { parts.append("hit \(Int(x))") }
                    if let x = m.citationPrecision { parts.append(String(format: "citeP %.2f", x)) }
                    parts.append(String(format: "%.0f ms", m.latencyMs))
                    if m.calls > 0 {
                        parts.append(
                            "\(m.promptTokens)+\(m.completionTokens) tok\(m.cachedCalls == m.calls ? ", cached" : "")")
                    }
                    h += "<div class=\"small\">\(esc(parts.joined(separator: " · ")))</div>\n"
                }
                if let j = r.judge {
                    h +=
                        "<div class=\"small\">judge: \(j.score.map { String(format: "%.1f", $0) } ?? "no score") — \(esc(j.reason))</div>\n"
                }
                if changed, let old {
                    h += "<div class=\"small\"><b>baseline:</b> \(esc(old.answer))</div>\n"
                }
                let cited = r.sources.filter { r.cited.contains($0.n) }
                if !cited.isEmpty {
                    h += "<div class=\"small\">cited:</div>"
                    for s in cited {
                        let text = s.text.count > 240 ? String(s.text.prefix(240)) + "…" : s.text
                        h += "<div class=\"src\">[\(s.n)] \(esc(s.document)) › \(esc(s.section))\n\(esc(text))</div>"
                    }
                }
                if !sharedRetrieval { h += Self.retrievedList(r.retrieved) }
                h += "</div>\n"
            }
            h += "</div></details>\n"
        }
        h += "</body></html>\n"
        return h
    }

    /// The retrieved passages, folded.
    static func retrievedList(_ list: [SourceRef], note: String = "") -> String {
        guard !list.isEmpty else { return "" }
        var h = "<details><summary class=\"small\">retrieved (\(list.count))\(note)</summary><ol class=\"small\">"
        for s in list { h += "<li>\(esc(s.document)) › \(esc(s.section))</li>" }
        return h + "</ol></details>"
    }

    /// Horizontal bars of `metric`, one per variant.
    func bars(_ metric: String, maximum: Double) -> String {
        let rowHeight = 22
        let labelWidth = 190
        let barWidth = 220
        let height = rowHeight * variants.count + 30
        var s = "<div class=\"chart\"><svg width=\"\(labelWidth + barWidth + 60)\" "
        s += "height=\"\(height)\" role=\"img\" aria-label=\"\(esc(metric)) per variant\">"
        s += "<text x=\"4\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(esc(metric))</text>"
        for (i, v) in variants.enumerated() {
            let y = 26 + i * rowHeight
            let value = v.metrics[metric]
            let w = value.map { max(0, min(1, $0 / maximum)) * Double(barWidth) } ?? 0
            s += "<text x=\"4\" y=\"\(y + 14)\" font-size=\"12\">\(esc(Self.clipped(v.name, 28)))</text>"
            s += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(barWidth)\" height=\"14\" fill=\"#eef1f6\"/>"
            s += String(
                format: "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%@\"/>", labelWidth, y + 3, w,
                Self.color(i))
            s +=
                "<text x=\"\(labelWidth + barWidth + 6)\" y=\"\(y + 14)\" font-size=\"12\">\(Self.shown(metric, value))</text>"
        }
        return s + "</svg></div>\n"
    }

    /// Quality (accuracy) against cost (or completion tokens when no price is known), one dot per variant.
    func scatter() -> String {
        let useCost = variants.contains { $0.metrics["cost"] != nil && $0.model != "extractive" }
        let xMetric = useCost ? "cost" : "completion_tokens"
        let points = variants.enumerated().compactMap { i, v -> (Int, String, Double, Double)? in
            guard let y = v.metrics["accuracy"] else { return nil }
            return (i, v.name, v.metrics[xMetric] ?? 0, y)
        }
        guard !points.isEmpty else { return "" }
        let w = 360.0
        let hgt = 220.0
        let left = 40.0
        let bottom = 30.0
        let maxX = max(points.map { $0.2 }.max() ?? 1, 1e-9)
        var s = "<div class=\"chart\"><svg width=\"\(Int(w + 150))\" height=\"\(Int(hgt + 20))\" "
        s += "role=\"img\" aria-label=\"accuracy against \(xMetric)\">"
        s +=
            "<text x=\"4\" y=\"14\" font-size=\"13\" font-weight=\"bold\">accuracy against \(xMetric == "cost" ? "cost" : "completion tokens")</text>"
        s += String(
            format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#889\"/>", left, hgt - bottom, w,
            hgt - bottom)
        s += String(
            format: "<line x1=\"%.0f\" y1=\"20\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#889\"/>", left, left, hgt - bottom)
        s +=
            "<text x=\"4\" y=\"28\" font-size=\"11\">1.0</text><text x=\"4\" y=\"\(Int(hgt - bottom))\" font-size=\"11\">0</text>"
        s += "<text x=\"\(Int(w - 60))\" y=\"\(Int(hgt - 10))\" font-size=\"11\">\(Self.shown(xMetric, maxX))</text>"
        for (k, p) in points.enumerated() {
            let x = left + 10 + (w - left - 20) * (p.2 / maxX)
            let y = (hgt - bottom) - (hgt - bottom - 24) * max(0, min(1, p.3))
            s += String(
                format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%@\"><title>%@</title></circle>", x, y,
                Self.color(p.0), esc(p.1))
            s +=
                "<text x=\"\(Int(w + 8))\" y=\"\(24 + k * 16)\" font-size=\"11\" fill=\"\(Self.color(p.0))\">● \(esc(Self.clipped(p.1, 22)))</text>"
        }
        return s + "</svg></div>\n"
    }

    static func color(_ i: Int) -> String {
        ["#3b6fd6", "#d9822b", "#2f9e6a", "#a04bc8", "#c8483f", "#5a7184", "#b59a1c", "#2aa0b5"][i % 8]
    }

    static func clipped(_ s: String, _ n: Int) -> String { s.count > n ? String(s.prefix(n - 1)) + "…" : s }
}

/// `s` escaped for HTML text and attribute values.
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            if ch.value < 0x20 && ch != "\n" && ch != "\t" {
                out += " "
            } else {
                out.unicodeScalars.append(ch)
            }
        }
    }
    return out
}
