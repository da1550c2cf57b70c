using Cocoon.Bot.Dispatch;

namespace Cocoon.Bot.Api;

/// <summary>
/// The served-model list for request validation, reread at most once a second so a burst of requests does not turn
/// into a burst of registry reads; a model missing from the cached list is looked up again before a 404.
/// </summary>
internal sealed class ServedModelsCache(IDispatcher dispatcher, TimeProvider time)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);
    private (IReadOnlyList<ServedModel> Models, DateTimeOffset At)? _cached;

    public async Task<ServedModel?> FindAsync(string model, CancellationToken cancellationToken)
    {
        var snapshot = _cached;
        if (snapshot is { } s && time.GetUtcNow() - s.At < MaxAge && Find(s.Models, model) is { } hit)
        {
            return hit;
        }

        var models = await RefreshAsync(cancellationToken);
        return Find(models, model);
    }

    public async Task<IReadOnlyList<ServedModel>> RefreshAsync(CancellationToken cancellationToken)
    {
        var models = await dispatcher.GetModelsAsync(cancellationToken);
        _cached = (models, time.GetUtcNow());
        return models;
    }

    private static ServedModel? Find(IReadOnlyList<ServedModel> models, string model) =>
        models.FirstOrDefault(m => m.Workers.Count > 0 && (m.Name == model || m.Sha256 == model));
}
