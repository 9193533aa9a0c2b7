/// Picks the recipe a call matches.
///
/// Positional calls match by parameter **count only** (OpenSIPS behaviour: names are unknown),
/// named calls by count and names, so unknown extra keys never match.
enum MIRecipeSelection {
    static func select(_ command: MICommand, storage: MIRequestParams.Storage) -> Result<MIRequestParams, MIError> {
        switch storage {
        case .none:
            guard let recipe = command.recipes.first(where: \.isEmpty) else { return .failure(.wrongParamCount) }
            return .success(MIRequestParams(storage: .none, recipe: recipe))

        case .positional(let values):
            if command.flags.contains(.namedParamsOnly) { return .failure(.namedParamsOnly) }
            let candidates = command.recipes.filter { $0.count == values.count }
            guard let recipe = candidates.first else { return .failure(.wrongParamCount) }
            guard candidates.count == 1 else { return .failure(.ambiguousCall) }
            return .success(MIRequestParams(storage: storage, recipe: recipe))

        case .named(let object):
            let match = command.recipes.first { recipe in
                recipe.count == object.count && recipe.allSatisfy(object.contains)
            }
            guard let recipe = match else { return .failure(.namedParamsMismatch) }
            return .success(MIRequestParams(storage: storage, recipe: recipe))
        }
    }
}
