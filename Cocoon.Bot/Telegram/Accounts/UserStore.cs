using System.Text.Json;
using Cocoon.Bot.Dispatch;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Accounts;

/// <summary>One answer as /usage shows it: no text, only what was billed.</summary>
public sealed record UsageEntry(DateTimeOffset At, string Model, int PromptTokens, int CompletionTokens, long CostNanotons);

/// <summary>
/// What the bot remembers about a user besides the conversation: the chosen model, whether the free allowance was
/// given, the last receipt (for /privacy) and recent usage. None of it holds prompt or answer text.
/// </summary>
public sealed class UserStore(IConnectionMultiplexer redis, TelegramKeys keys)
{
    private const int UsageKept = 20;

    public async Task<string?> GetModelAsync(long userId, CancellationToken cancellationToken)
    {
        var v = await redis.GetDatabase().HashGetAsync(keys.User(userId), "model").WaitAsync(cancellationToken).ConfigureAwait(false);
        return v.IsNullOrEmpty ? null : v.ToString();
    }

    public Task SetModelAsync(long userId, string model, CancellationToken cancellationToken) =>
        redis.GetDatabase().HashSetAsync(keys.User(userId), "model", model).WaitAsync(cancellationToken);

    /// <summary>The trust tiers the user accepts (/tier); null: the network's default.</summary>
    public async Task<IReadOnlyList<string>?> GetTiersAsync(long userId, CancellationToken cancellationToken)
    {
        var v = await redis.GetDatabase().HashGetAsync(keys.User(userId), "tiers").WaitAsync(cancellationToken).ConfigureAwait(false);
        return v.IsNullOrEmpty ? null : Cocoon.Engine.Matching.TrustTiers.Parse([v.ToString()], out _);
    }

    /// <summary>Sets the tiers the user accepts; null goes back to the network's default.</summary>
    public Task SetTiersAsync(long userId, IReadOnlyList<string>? tiers, CancellationToken cancellationToken) =>
        tiers is null
            ? redis.GetDatabase().HashDeleteAsync(keys.User(userId), "tiers").WaitAsync(cancellationToken)
            : redis.GetDatabase().HashSetAsync(keys.User(userId), "tiers", string.Join(',', tiers)).WaitAsync(cancellationToken);

    public Task<bool> IsSeenAsync(long userId, CancellationToken cancellationToken) =>
        redis.GetDatabase().HashExistsAsync(keys.User(userId), "seen").WaitAsync(cancellationToken);

    public Task MarkSeenAsync(long userId, CancellationToken cancellationToken) =>
        redis.GetDatabase().HashSetAsync(keys.User(userId), "seen", 1).WaitAsync(cancellationToken);

    public async Task RecordAnswerAsync(long userId, DispatchReceipt receipt, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var db = redis.GetDatabase();
        var entry = JsonSerializer.Serialize(new UsageEntry(at, receipt.Model, receipt.PromptTokens, receipt.CompletionTokens, receipt.TotalCostNanotons));
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(keys.User(userId), "last-receipt", JsonSerializer.Serialize(receipt));
        _ = tx.ListLeftPushAsync(keys.Usage(userId), entry);
        _ = tx.ListTrimAsync(keys.Usage(userId), 0, UsageKept - 1);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<DispatchReceipt?> GetLastReceiptAsync(long userId, CancellationToken cancellationToken)
    {
        var v = await redis.GetDatabase().HashGetAsync(keys.User(userId), "last-receipt").WaitAsync(cancellationToken).ConfigureAwait(false);
        return v.IsNullOrEmpty ? null : JsonSerializer.Deserialize<DispatchReceipt>(v.ToString());
    }

    public async Task<IReadOnlyList<UsageEntry>> GetUsageAsync(long userId, CancellationToken cancellationToken)
    {
        var items = await redis.GetDatabase().ListRangeAsync(keys.Usage(userId), 0, UsageKept - 1).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. items.Select(i => JsonSerializer.Deserialize<UsageEntry>(i.ToString())!)];
    }

    /// <summary>Whether the user asked to keep context in guest chats (/guestmemory on); off unless they opted in.</summary>
    public async Task<bool> GetGuestMemoryAsync(long userId, CancellationToken cancellationToken) =>
        (await redis.GetDatabase().HashGetAsync(keys.User(userId), "guest-memory").WaitAsync(cancellationToken).ConfigureAwait(false)).TryParse(out long on) && on == 1;

    public Task SetGuestMemoryAsync(long userId, bool on, CancellationToken cancellationToken) =>
        on ? redis.GetDatabase().HashSetAsync(keys.User(userId), "guest-memory", 1).WaitAsync(cancellationToken)
            : redis.GetDatabase().HashDeleteAsync(keys.User(userId), "guest-memory").WaitAsync(cancellationToken);

    /// <summary>/forget: the user's settings, receipts, usage and any half-finished provider registration.</summary>
    public Task ForgetAsync(long userId, CancellationToken cancellationToken) =>
        redis.GetDatabase().KeyDeleteAsync([keys.User(userId), keys.Usage(userId), keys.ProviderDraft(userId), keys.Conversation(userId)]).WaitAsync(cancellationToken);
}
