namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// The update_id of the update the current handler runs for (set by <see cref="UpdatePump"/> around the handler, null
/// outside one). Deep in a handler it names the work that a replay of the same update must not do twice (see
/// Chats/AnswerRecords) without threading the id through every handler's signature.
/// </summary>
public static class HandledUpdate
{
    private static readonly AsyncLocal<long?> Id = new();

    public static long? Current => Id.Value;

    /// <summary>Sets the id for the flow below the caller until the result is disposed.</summary>
    public static IDisposable Begin(long updateId)
    {
        var previous = Id.Value;
        Id.Value = updateId;
        return new Scope(previous);
    }

    private sealed class Scope(long? previous) : IDisposable
    {
        public void Dispose() => Id.Value = previous;
    }
}
