import Foundation

let clipcvVersion = "0.1.0"

/// Every subcommand, in the order `clipcv --help` lists them.
let commands: [Command] = [
    synthCommand,
    foldsCommand,
    demoCommand,
    sweepCommand,
    reportCommand,
    trainCommand,
    predictCommand,
    embedCommand,
    inspectCommand,
    metricsCommand,
    benchCommand,
    mpiCheckCommand,
]

let overview = """
clipcv: where in CLIP should LoRA adapters go to predict response to chemotherapy, and how well does it work
under cross-validation? Runs alone or under mpirun.

usage: clipcv <command> [options]      clipcv <command> --help

commands:
"""

@MainActor func printHelp() {
    let width = commands.map(\.name.count).max() ?? 0
    print(overview)
    for command in commands {
        print("  " + command.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + command.summary)
    }
}

func fail(_ message: String, usage: String? = nil, status: Int32) -> Never {
    FileHandle.standardError.write(Data("clipcv: \(message)\n".utf8))
    if let usage { FileHandle.standardError.write(Data("usage: \(usage)\n".utf8)) }
    exit(status)
}

let words = Array(CommandLine.arguments.dropFirst())
guard let name = words.first else { printHelp(); exit(0) }
if name == "--help" || name == "-h" || name == "help" { printHelp(); exit(0) }
guard let command = commands.first(where: { $0.name == name }) else {
    fail("unknown command '\(name)'", usage: "clipcv <command> [options]; commands: \(commands.map(\.name).joined(separator: ", "))", status: 2)
}
let rest = Array(words.dropFirst())
if rest.contains("--help") || rest.contains("-h") { print(command.help); exit(0) }
do {
    let arguments = try command.parse(rest)
    exit(try command.run(arguments))
} catch let error as UsageError {
    fail("\(command.name): \(error)", usage: command.usage, status: 2)
} catch {
    fail("\(command.name): \(error)", status: 1)
}
