import Foundation
import Testing
import WendaoTestSupport
@testable import WendaoLoaders

// The XLSX reader's byte-level fast paths must give what the general code gives: numbers read
// without strtod, cell text appended without collapsing, formatted values written as bytes.

@Suite struct XLSXFastPathTests {
    @Test func plainDecimalsReadAsStrtodReadsThem() {
        var rng = SeededGenerator(seed: 7)
        var raws = ["0", "-0", "1", "-1", "0.5", "1.005", "0.1", "0.30000000000000004", "123456789012345",
                    "1234567890123456", "999999999999999", "0.000000000000000000001", "1.0000000000000000000001",
                    "5.", ".5", "-", "", "+1", "1e5", "1E+20", "inf", "nan", "0x10", "007", "-0.0", "12,5"]
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...20, using: &rng)
            let point = Int.random(in: 0...digits, using: &rng)
            var s = Bool.random(using: &rng) ? "-" : ""
            for k in 0..<digits {
                if k == point, k > 0 { s += "." }
                s += String(Int.random(in: 0...9, using: &rng))
            }
            raws.append(s)
        }
        for raw in raws {
            var copy = raw
            let fast = copy.withUTF8 { XLSXNumberFormat.number($0) }
            #expect(fast?.bitPattern == Double(raw)?.bitPattern, "\(raw)")
        }
    }

    @Test func appendedCellTextEqualsCellText() {
        let pieces: [[UInt8]] = [
            "a", "bc", " ", "  ", "\t", "\n", "\r\n", "中", "文。", "，", "\u{00A0}", "\u{3000}", "\u{1680}",
            "\u{FEFF}", "\u{2003}", "\u{0085}", "\u{2028}", "x y", "\u{01}",
        ].map { Array($0.utf8) } + [[0xE4], [0x80], [0xE4, 0x20], [0xE2, 0x80], [0xC2]]
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                bytes += pieces[Int.random(in: 0..<pieces.count, using: &rng)]
            }
            var out: [UInt8] = [0x7C]
            bytes.withUnsafeBufferPointer { SheetHandler.appendCellText($0, to: &out) }
            out.append(0x7C)
            let expected = "|" + SheetHandler.cellText(bytes) + "|"
            #expect(String(decoding: out, as: UTF8.self).utf8.elementsEqual(expected.utf8), "\(bytes)")
        }
    }

    @Test func formattedValuesWrittenAsBytes() {
        func f(_ code: String, _ raw: String) -> String {
            XLSXNumberFormat(code: code).format(raw: raw, date1904: false)
        }
        #expect(f("#,##0.00", "1234567.891") == "1,234,567.89")
        #expect(f("#,##0.00", "64986.28") == "64,986.28")
        #expect(f("0.00%", "0.941") == "94.10%")
        #expect(f("#,##0.00", "-0.001") == "0.00")
        #expect(f("#,##0", "12345678901234567890") == "12,345,678,901,234,567,168")
        #expect(f("00000", "42") == "00042")
        #expect(f("#.##", "0.5") == ".5")
        #expect(f("0.0", "abc") == "abc")
        #expect(f("yyyy-mm-dd", "44554") == "2021-12-24")
        #expect(f("hh:mm:ss.000", "0.5000001") == "12:00:00.008")
        #expect(f("yyyy-mm-dd", "3000000") == "3000000")
        #expect(XLSXNumberFormat.general("-0.500") == "-0.5")
        #expect(XLSXNumberFormat.general("123456789012345678") == "1.23456789012346E+17")
    }
}
