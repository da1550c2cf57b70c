namespace Cocoon.Bot.Hosting;

/// <summary>
/// A preparation every caller waits for and that runs once (a store's migrations and one-time data move): callers
/// share the running attempt, and one that failed or was cancelled is started again by the next caller.
/// </summary>
internal sealed class ReadyOnce(Func<CancellationToken, Task> prepare)
{
    private readonly Lock _lock = new();
    private Task? _ready;

    public Task EnsureAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_ready is null || _ready.IsFaulted || _ready.IsCanceled)
            {
                _ready = prepare(cancellationToken);
            }

            return _ready;
        }
    }
}
