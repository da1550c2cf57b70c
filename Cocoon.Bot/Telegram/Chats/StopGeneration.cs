using System.Collections.Concurrent;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>
/// Answers being generated, by the draft they stream into (Bot API 10.3). When the user presses Stop on a draft sent
/// with can_stop, Telegram sends a stopped_message_generation update naming the chat and draft; Telegram only stops
/// showing the draft, so the bot cancels the job itself: the token below is part of the dispatch's token, and the
/// dispatcher turns its cancellation into a cancel to the worker (which frees the sequence and its slot).
/// </summary>
public sealed class GenerationStops
{
    private readonly ConcurrentDictionary<(long ChatId, long DraftId), CancellationTokenSource> _running = new();

    /// <summary>Registers an answer streaming into this draft; dispose the result when the answer is over.</summary>
    public Registration Register(long chatId, long draftId)
    {
        var source = new CancellationTokenSource();
        _running[(chatId, draftId)] = source;
        return new Registration(this, (chatId, draftId), source);
    }

    /// <summary>Stops the answer streaming into this draft; false when none is (already finished, or another process).</summary>
    public bool Stop(long chatId, long draftId)
    {
        if (!_running.TryGetValue((chatId, draftId), out var source))
        {
            return false;
        }

        try
        {
            source.Cancel();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    public sealed class Registration : IDisposable
    {
        private readonly GenerationStops _owner;
        private readonly (long, long) _key;
        private readonly CancellationTokenSource _source;

        internal Registration(GenerationStops owner, (long, long) key, CancellationTokenSource source)
        {
            _owner = owner;
            _key = key;
            _source = source;
        }

        /// <summary>Cancelled when the user pressed Stop.</summary>
        public CancellationToken Token => _source.Token;

        public void Dispose()
        {
            _owner._running.TryRemove(new KeyValuePair<(long, long), CancellationTokenSource>(_key, _source));
            _source.Dispose();
        }
    }
}
