using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Transport;

/// <summary>
/// Chats that answered 403 (the user blocked the bot, or the bot was removed): nothing more is sent there until the
/// user writes again. Kept in memory for the hot path and in Redis so a restart remembers.
/// </summary>
public sealed class BlockedChats(IConnectionMultiplexer redis, TelegramKeys keys)
{
    private readonly ConcurrentDictionary<long, bool> _blocked = new();
    private int _loaded;

    public bool IsBlocked(long chatId) => _blocked.ContainsKey(chatId);

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _loaded, 1) == 1)
        {
            return;
        }

        var members = await redis.GetDatabase().SetMembersAsync(keys.Blocked).WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var m in members)
        {
            if (long.TryParse(m.ToString(), out var id))
            {
                _blocked[id] = true;
            }
        }
    }

    public async Task BlockAsync(long chatId, CancellationToken cancellationToken)
    {
        _blocked[chatId] = true;
        await redis.GetDatabase().SetAddAsync(keys.Blocked, chatId).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task UnblockAsync(long chatId, CancellationToken cancellationToken)
    {
        if (_blocked.TryRemove(chatId, out _))
        {
            await redis.GetDatabase().SetRemoveAsync(keys.Blocked, chatId).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
