/// A problem with a checkpoint, tokenizer or adapter file: one line naming the file (and tensor) and what was expected.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
