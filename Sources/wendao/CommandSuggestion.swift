import ArgumentParser

/// Suggests the nearest command for a mistyped one (`wendao aks` → "Did you mean 'ask'?").
///
/// ArgumentParser suggests the nearest option for a mistyped option, but for a word that names no
/// subcommand it only says "Unexpected argument". This walks the arguments down the command tree
/// as the parser does and, at the first word that is not a subcommand where one is expected, names
/// the closest subcommands.
enum CommandSuggestion {
    /// The message for `arguments` when one of them is an unknown subcommand, else nil.
    static func message(for arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path = [root.configuration.commandName ?? "wendao"]
        for word in arguments {
            if word.hasPrefix("-") { return nil }  // options end the walk: the parser handles them
            let subcommands = command.configuration.subcommands
            // A command with a default subcommand takes that subcommand's arguments too.
            if subcommands.isEmpty || command.configuration.defaultSubcommand != nil { return nil }
            if let next = subcommands.first(where: { names(of: $0).contains(word) }) {
                command = next
                path.append(word)
                continue
            }
            let candidates = subcommands.flatMap { sub in names(of: sub).map { ($0, sub) } }
            let ranked = candidates.map { (name: $0.0, distance: editDistance(word.lowercased(), $0.0)) }
                .filter { $0.distance <= max(1, min(3, $0.name.count / 2)) || $0.name.hasPrefix(word.lowercased()) }
                .sorted { ($0.distance, $0.name) < ($1.distance, $1.name) }
            var seen: Set<String> = []
            let suggested = ranked.map { $0.name }.filter { seen.insert($0).inserted }.prefix(3)
            let full = path.joined(separator: " ")
            var text = "'\(word)' is not a \(full) command."
            if !suggested.isEmpty {
                text += " Did you mean " + suggested.map { "'\(full) \($0)'" }.joined(separator: " or ") + "?"
            }
            return text + " See '\(full) --help'."
        }
        return nil
    }

    private static func names(of command: any ParsableCommand.Type) -> [String] {
        let c = command.configuration
        let name = c.commandName ?? String(describing: command).lowercased()
        return [name] + c.aliases
    }

    /// Damerau–Levenshtein distance (adjacent transpositions count one), on characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}
