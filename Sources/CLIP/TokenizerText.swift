import Foundation

/// The text side of CLIP's tokenizer: cleaning and the pre-tokenizer, as OpenAI's `SimpleTokenizer` does them.
enum TokenizerText {
    /// OpenAI's `whitespace_clean(basic_clean(text)).lower()`, with `ftfy.fix_text` reduced to its NFC step:
    /// NFC; `html.unescape` twice; strip; runs of white space → one space; strip; Python's `str.lower()`.
    /// ftfy's other repairs (mojibake, ligatures such as `ﬁ`, curly quotes, full-width forms) have no Swift
    /// counterpart and are not applied — transformers' CLIPTokenizer does not apply them either.
    static func clean(_ text: String) -> [Unicode.Scalar] {
        var scalars = Array(text.precomposedStringWithCanonicalMapping.unicodeScalars)
        scalars = HTMLEntities.unescape(HTMLEntities.unescape(scalars))
        scalars = stripped(scalars)
        var collapsed: [Unicode.Scalar] = []
        collapsed.reserveCapacity(scalars.count)
        for scalar in scalars {
            if scalar.properties.isWhitespace {
                if collapsed.last != " " { collapsed.append(" ") }
            } else {
                collapsed.append(scalar)
            }
        }
        return lowercased(stripped(collapsed))
    }

    /// Python's `str.strip()`: its white space is Unicode White_Space plus the separators U+001C–U+001F.
    private static func stripped(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let isSpace = { (s: Unicode.Scalar) in s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return []
        }
        return Array(scalars[first...last])
    }

    /// Python's `str.lower()`: the full lowercase mapping of each scalar, and capital sigma becomes final `ς` at the
    /// end of a word (Unicode's Final_Sigma context: a cased letter before it, none after it, case-ignorable
    /// characters skipped). Swift's `lowercased()` lacks that rule.
    static func lowercased(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(scalars.count)
        for (index, scalar) in scalars.enumerated() {
            if scalar == "\u{03A3}" {
                output.append(isFinalSigma(scalars, at: index) ? "\u{03C2}" : "\u{03C3}")
            } else {
                output += scalar.properties.lowercaseMapping.unicodeScalars
            }
        }
        return output
    }

    private static func isFinalSigma(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        let before = scalars[..<index].last { !$0.properties.isCaseIgnorable }
        guard let before, before.properties.isCased else { return false }
        let after = scalars[(index + 1)...].first { !$0.properties.isCaseIgnorable }
        return after.map { !$0.properties.isCased } ?? true
    }

    /// One piece of the pre-tokenizer's output.
    enum Piece: Equatable {
        case special(Int)
        case word(String)
    }

    /// `re.findall` of `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
    /// on cleaned (lowercased) text: at each position the first alternative that matches wins; white space between
    /// pieces is skipped. `\p{L}` and `\p{N}` are general categories L* and N* (not `isAlphabetic`/`isNumeric`).
    static func pieces(_ text: [Unicode.Scalar]) -> [Piece] {
        var pieces: [Piece] = []
        var i = 0
        func take(_ end: Int) {
            pieces.append(.word(String(String.UnicodeScalarView(text[i..<end]))))
            i = end
        }
        while i < text.count {
            let scalar = text[i]
            if scalar == "<", let (id, length) = specialToken(in: text, at: i) {
                pieces.append(.special(id))
                i += length
            } else if scalar == "'", let length = contraction(in: text, at: i) {
                take(i + length)
            } else if isLetter(scalar) {
                var end = i + 1
                while end < text.count, isLetter(text[end]) { end += 1 }
                take(end)
            } else if isNumber(scalar) {
                take(i + 1)
            } else if !scalar.properties.isWhitespace {
                var end = i + 1
                while end < text.count, isOther(text[end]) { end += 1 }
                take(end)
            } else {
                i += 1
            }
        }
        return pieces
    }

    private static let specialTokens: [([Unicode.Scalar], Int)] = [
        (Array("<|startoftext|>".unicodeScalars), Tokenizer.startOfText),
        (Array("<|endoftext|>".unicodeScalars), Tokenizer.endOfText),
    ]

    private static func specialToken(in text: [Unicode.Scalar], at start: Int) -> (id: Int, length: Int)? {
        for (literal, id) in specialTokens where text[start...].starts(with: literal) { return (id, literal.count) }
        return nil
    }

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `start`. The text is already lowercase; what case-insensitive matching
    /// still adds is the long s `ſ`, which case-folds to `s`.
    private static func contraction(in text: [Unicode.Scalar], at start: Int) -> Int? {
        guard start + 1 < text.count else { return nil }
        switch text[start + 1] {
        case "s", "\u{017F}", "t", "m", "d": return 2
        case "r", "v", "l":
            let second: Unicode.Scalar = text[start + 1] == "l" ? "l" : "e"
            return start + 2 < text.count && text[start + 2] == second ? 3 : nil
        default: return nil
        }
    }

    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// `[^\s\p{L}\p{N}]`
    private static func isOther(_ scalar: Unicode.Scalar) -> Bool {
        !scalar.properties.isWhitespace && !isLetter(scalar) && !isNumber(scalar)
    }
}
