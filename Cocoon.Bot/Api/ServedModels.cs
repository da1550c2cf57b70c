using Cocoon.Bot.Dispatch;

namespace Cocoon.Bot.Api;

/// <summary>Resolves a request's model name (or GGUF SHA-256) against what the dispatcher serves right now.</summary>
internal sealed class ServedModels(IDispatcher dispatcher)
{
    /// <summary>The served model, or null when the network does not know the name at all.</summary>
    public async Task<ServedModel?> FindAsync(string model, CancellationToken cancellationToken)
    {
        var models = await dispatcher.GetModelsAsync(cancellationToken);
        return models.FirstOrDefault(m => m.Name == model) ?? models.FirstOrDefault(m => string.Equals(m.Sha256, model, StringComparison.OrdinalIgnoreCase));
    }

    public Task<IReadOnlyList<ServedModel>> RefreshAsync(CancellationToken cancellationToken) => dispatcher.GetModelsAsync(cancellationToken);
}
