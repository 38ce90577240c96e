public import ArgumentParser
import WendaoCore
import WendaoRAG

// The settings enums are parsed by ArgumentParser itself, so `--retrieval`, `--fusion`, `--cjk-mode`,
// `--mode` and `--answer-guard` list their accepted values in `--help` and reject others as usage errors
// (exit 2).

extension RetrievalMode: ExpressibleByArgument {}
extension CJKMode: ExpressibleByArgument {}
extension FusionMethod: ExpressibleByArgument {}
extension OCREngineChoice: ExpressibleByArgument {}
extension AnswerGuardMode: ExpressibleByArgument {}
