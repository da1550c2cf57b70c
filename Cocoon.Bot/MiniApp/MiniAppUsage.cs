using System.Globalization;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.MiniApp;

/// <summary>One day of a user's Mini App chats: token counts and cost, never text.</summary>
public sealed record UsageDay(string Date, long PromptTokens, long CompletionTokens, long CostNanotons, long Answers);

/// <summary>
/// Per-user, per-day counters of the Mini App's answers (tokens, cost, count) in Redis under the gateway's prefix,
/// for the usage chart. The ledger knows costs but not tokens, so the Mini App counts its own answers; each day's
/// hash expires after <see cref="Retention"/>.
/// </summary>
public sealed class MiniAppUsage(IConnectionMultiplexer redis, RedisKeys keys)
{
    public static readonly TimeSpan Retention = TimeSpan.FromDays(90);

    private RedisKey Key(long userId, DateOnly day) => keys.Prefix + "miniapp:usage:" + userId.ToString(CultureInfo.InvariantCulture) + ":" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public async Task AddAsync(long userId, DateTimeOffset at, int promptTokens, int completionTokens, long costNanotons, CancellationToken cancellationToken)
    {
        var key = Key(userId, DateOnly.FromDateTime(at.UtcDateTime));
        var batch = redis.GetDatabase().CreateBatch();
        var writes = new Task[]
        {
            batch.HashIncrementAsync(key, "prompt", promptTokens),
            batch.HashIncrementAsync(key, "completion", completionTokens),
            batch.HashIncrementAsync(key, "cost", costNanotons),
            batch.HashIncrementAsync(key, "answers", 1),
            batch.KeyExpireAsync(key, Retention),
        };
        batch.Execute();
        await Task.WhenAll(writes).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The last <paramref name="days"/> days up to <paramref name="today"/>, oldest first, zeros included.</summary>
    public async Task<IReadOnlyList<UsageDay>> GetAsync(long userId, DateOnly today, int days, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var result = new List<UsageDay>(days);
        for (var day = today.AddDays(1 - days); day <= today; day = day.AddDays(1))
        {
            var fields = (await db.HashGetAllAsync(Key(userId, day)).WaitAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
            result.Add(new UsageDay(
                day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                fields.GetValueOrDefault("prompt"),
                fields.GetValueOrDefault("completion"),
                fields.GetValueOrDefault("cost"),
                fields.GetValueOrDefault("answers")));
        }

        return result;
    }
}
