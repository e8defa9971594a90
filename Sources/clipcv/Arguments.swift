import Foundation

/// One command-line option of a command, declared once; parsing, validation and `--help` all come from it.
struct Option: Sendable {
    enum Kind: Sendable { case flag, value, list }
    let name: String
    let kind: Kind
    let placeholder: String
    let help: String
    let defaultValue: String?
    let isRequired: Bool

    /// `--name` alone; true when present.
    static func flag(_ name: String, help: String) -> Option {
        Option(name: name, kind: .flag, placeholder: "", help: help, defaultValue: nil, isRequired: false)
    }
    /// `--name VALUE`.
    static func value(_ name: String, _ placeholder: String, help: String, default defaultValue: String? = nil,
                      required: Bool = false) -> Option {
        Option(name: name, kind: .value, placeholder: placeholder, help: help, defaultValue: defaultValue, isRequired: required)
    }
    /// `--name V1 V2 …`: every following word up to the next `--option`.
    static func list(_ name: String, _ placeholder: String, help: String, default defaultValue: String? = nil,
                     required: Bool = false) -> Option {
        Option(name: name, kind: .list, placeholder: placeholder, help: help, defaultValue: defaultValue, isRequired: required)
    }
}

/// A subcommand: its options, what it does, and the code that does it.
struct Command: Sendable {
    let name: String
    let summary: String
    /// Free-form text shown under the usage line (what the command reads and writes).
    var details: String = ""
    /// Name of the positional arguments, e.g. "RUNDIR" (nil: none accepted).
    var positionals: String? = nil
    let options: [Option]
    let run: @Sendable (ParsedArguments) throws -> Int32

    var usage: String {
        var parts = ["clipcv", name]
        if let positionals { parts.append(positionals) }
        for option in options {
            let word: String
            switch option.kind {
            case .flag: word = "--\(option.name)"
            case .value: word = "--\(option.name) \(option.placeholder)"
            case .list: word = "--\(option.name) \(option.placeholder)…"
            }
            parts.append(option.isRequired ? word : "[\(word)]")
        }
        return parts.joined(separator: " ")
    }

    var help: String {
        var lines = ["usage: \(usage)", "", summary]
        if !details.isEmpty { lines += ["", details] }
        if !options.isEmpty {
            lines += ["", "options:"]
            let width = options.map { optionTitle($0).count }.max() ?? 0
            for option in options {
                var text = option.help
                if let value = option.defaultValue { text += " (default: \(value))" }
                if option.isRequired { text += " (required)" }
                lines.append("  " + optionTitle(option).padding(toLength: width + 2, withPad: " ", startingAt: 0) + text)
            }
            lines.append("  " + "--help".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "show this help")
        }
        return lines.joined(separator: "\n")
    }

    private func optionTitle(_ option: Option) -> String {
        switch option.kind {
        case .flag: "--\(option.name)"
        case .value: "--\(option.name) \(option.placeholder)"
        case .list: "--\(option.name) \(option.placeholder)…"
        }
    }

    /// Parses `words` (the arguments after the command name) against `options`.
    func parse(_ words: [String]) throws -> ParsedArguments {
        var values: [String: [String]] = [:]
        var positional: [String] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                guard positionals != nil else { throw UsageError("unexpected argument '\(word)'") }
                positional.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = options.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)'")
            }
            switch option.kind {
            case .flag:
                guard inlineValue == nil else { throw UsageError("--\(name) takes no value") }
                values[name] = []
            case .value:
                if let inlineValue { values[name] = [inlineValue]; break }
                guard index < words.count, !isOption(words[index]) else { throw UsageError("--\(name) needs a value (\(option.placeholder))") }
                values[name] = [words[index]]
                index += 1
            case .list:
                var items = inlineValue.map { [$0] } ?? []
                while index < words.count, !isOption(words[index]) { items.append(words[index]); index += 1 }
                guard !items.isEmpty else { throw UsageError("--\(name) needs at least one value (\(option.placeholder))") }
                values[name, default: []] += items
            }
        }
        for option in options where option.isRequired && values[option.name] == nil {
            throw UsageError("missing required option --\(option.name)")
        }
        return ParsedArguments(command: self, given: values, positional: positional)
    }

    /// A word that starts an option (`--x`); negative numbers such as `-0.5` are values.
    private func isOption(_ word: String) -> Bool { word.hasPrefix("--") && word.count > 2 }
}

/// The parsed words of one invocation, with typed accessors that fall back to the declared defaults.
struct ParsedArguments {
    let command: Command
    let given: [String: [String]]
    let positional: [String]

    func isSet(_ name: String) -> Bool { given[name] != nil }
    func flag(_ name: String) -> Bool { given[name] != nil }

    /// The option's value, or its default, or nil.
    func optionalString(_ name: String) -> String? {
        given[name]?.last ?? declared(name).defaultValue
    }
    func string(_ name: String) throws -> String {
        guard let value = optionalString(name) else { throw UsageError("missing --\(name)") }
        return value
    }
    func strings(_ name: String) -> [String] {
        given[name] ?? declared(name).defaultValue.map { $0.split(separator: " ").map(String.init) } ?? []
    }
    func int(_ name: String) throws -> Int { try number(name, Int.init) }
    func double(_ name: String) throws -> Double { try number(name, Double.init) }
    func float(_ name: String) throws -> Float { try number(name, Float.init) }
    func optionalInt(_ name: String) throws -> Int? { optionalString(name) == nil ? nil : try int(name) }
    func optionalDouble(_ name: String) throws -> Double? { optionalString(name) == nil ? nil : try double(name) }

    private func number<T>(_ name: String, _ convert: (String) -> T?) throws -> T {
        let text = try string(name)
        guard let value = convert(text) else { throw UsageError("--\(name): '\(text)' is not a valid \(T.self == Int.self ? "integer" : "number")") }
        return value
    }

    private func declared(_ name: String) -> Option {
        guard let option = command.options.first(where: { $0.name == name }) else {
            preconditionFailure("command \(command.name) reads undeclared option --\(name)")
        }
        return option
    }
}

/// A mistake in how clipcv was called: printed with the usage, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
