/// `content` (token ids without special tokens) cut into consecutive windows of at most
/// `maxLength − 2` tokens, each between `open` and `close` (`[CLS] … [SEP]`, `<s> … </s>`): how
/// both tokenizers' `windows(_:maxLength:)` cut a text longer than the model's limit. There is
/// always at least one window.
func tokenWindows(_ content: [Int32], maxLength: Int, open: Int32, close: Int32) -> [[Int32]] {
    let size = max(1, maxLength - 2)
    var result: [[Int32]] = []
    var start = 0
    repeat {
        let end = min(content.count, start + size)
        result.append([open] + content[start..<end] + [close])
        start = end
    } while start < content.count
    return result
}
