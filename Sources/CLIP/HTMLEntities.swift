/// HTML character references, decoded exactly as Python's `html.unescape` does (OpenAI's CLIP tokenizer applies
/// it twice): every WHATWG named reference (`HTMLEntitiesTable.swift`, all 2231 of Python's `html.entities.html5`,
/// including the legacy names accepted without `;` and their longest-prefix rule, so `&copy2024` → `©2024`),
/// and every numeric reference `&#NNN;` / `&#xHH;` (the `;` optional), with Python's replacements for
/// 0, CR, 0x80–0x9F (Windows-1252), surrogates and values beyond U+10FFFF, and its dropped code points.
enum HTMLEntities {
    /// `text` with every character reference replaced, scanning left to right once (like `re.sub`).
    static func unescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if text[i] == "&", let (replacement, end) = reference(in: text, after: i + 1) {
                output += replacement
                i = end
            } else {
                output.append(text[i])
                i += 1
            }
        }
        return output
    }

    /// Python's `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` at `start` (just after `&`):
    /// the replacement and the index after the reference, or nil when nothing matches.
    private static func reference(in text: [Unicode.Scalar], after start: Int) -> ([Unicode.Scalar], Int)? {
        guard start < text.count else { return nil }
        if text[start] == "#" {
            var i = start + 1
            let hexadecimal = i < text.count && (text[i] == "x" || text[i] == "X")
            if hexadecimal { i += 1 }
            let radix: UInt32 = hexadecimal ? 16 : 10
            let digitsStart = i
            var value: UInt32 = 0
            while i < text.count, let digit = digitValue(text[i], radix: radix) {
                value = value > 0x10FFFF ? value : value * radix + digit  // saturate: any overflow is "too large"
                i += 1
            }
            guard i > digitsStart else { return nil }
            if i < text.count, text[i] == ";" { i += 1 }
            return (numericReplacement(value), i)
        }
        var i = start
        while i < text.count, i - start < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(text[i]) { i += 1 }
        guard i > start else { return nil }
        if i < text.count, text[i] == ";" { i += 1 }
        let name = Array(text[start..<i])
        if let value = named[String(String.UnicodeScalarView(name))] { return (value, i) }
        // The longest prefix (of at least 2 characters) that is a legacy name: `&notit;` → `¬it;`.
        for length in stride(from: name.count - 1, to: 1, by: -1) {
            if let value = named[String(String.UnicodeScalarView(name[..<length]))] {
                return (value + name[length...], i)
            }
        }
        return (["&"] + name, i)
    }

    private static func digitValue(_ scalar: Unicode.Scalar, radix: UInt32) -> UInt32? {
        switch scalar.value {
        case 0x30...0x39: scalar.value - 0x30
        case 0x41...0x46 where radix == 16: scalar.value - 0x41 + 10
        case 0x61...0x66 where radix == 16: scalar.value - 0x61 + 10
        default: nil
        }
    }

    private static func numericReplacement(_ value: UInt32) -> [Unicode.Scalar] {
        if let replacement = htmlReplacedCharacterReferences[value] { return [Unicode.Scalar(replacement)!] }
        if (0xD800...0xDFFF).contains(value) || value > 0x10FFFF { return ["\u{FFFD}"] }
        if htmlDroppedCodePoints.contains(where: { $0.contains(value) }) { return [] }
        return [Unicode.Scalar(value)!]
    }

    /// Name (with its `;` when the table has one) → replacement, parsed once from the generated table.
    private static let named: [String: [Unicode.Scalar]] = {
        var table: [String: [Unicode.Scalar]] = [:]
        for line in htmlNamedReferenceTable.split(separator: "\n") {
            let parts = line.split(separator: "=")
            table[String(parts[0])] = parts[1].split(separator: ",").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        return table
    }()
}
