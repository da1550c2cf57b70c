using System.Text;
using System.Text.Json;
using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Engine.Protocol;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>
/// Recent turns of a private conversation, sealed with the host key (Redis never holds them in plaintext) and
/// expiring after the configured idle time. Only as many turns are kept as fit the model's context.
/// <para>
/// Each conversation has a generation, kept under its own key without expiry and bound into the blob's associated
/// data. /new and /forget bump it before deleting the blob, so a copy of the blob saved earlier (a Redis backup, an
/// AOF, someone with Redis access) no longer opens if it is written back: a forgotten conversation stays forgotten.
/// Generation 0 (never cleared) seals with the key name alone, as blobs did before generations existed.
/// </para>
/// </summary>
public sealed class ConversationStore(IConnectionMultiplexer redis, TelegramKeys keys, HostKeySealer sealer, IOptions<TelegramOptions> options)
{
    public Task<IReadOnlyList<ChatMessage>> LoadAsync(long chatId, CancellationToken cancellationToken) =>
        LoadAsync(keys.Conversation(chatId), keys.ConversationGeneration(chatId), cancellationToken);

    public Task SaveAsync(long chatId, IReadOnlyList<ChatMessage> turns, CancellationToken cancellationToken) =>
        SaveAsync(keys.Conversation(chatId), keys.ConversationGeneration(chatId), turns, cancellationToken);

    /// <summary>A user's guest conversation in one chat; one generation per user covers all of their guest chats.</summary>
    public Task<IReadOnlyList<ChatMessage>> LoadGuestAsync(long userId, long chatId, CancellationToken cancellationToken) =>
        LoadAsync(keys.GuestConversation(userId, chatId), keys.GuestConversationGeneration(userId), cancellationToken);

    public Task SaveGuestAsync(long userId, long chatId, IReadOnlyList<ChatMessage> turns, CancellationToken cancellationToken) =>
        SaveAsync(keys.GuestConversation(userId, chatId), keys.GuestConversationGeneration(userId), turns, cancellationToken);

    /// <summary>Every guest conversation of the user becomes unreadable at once (the blobs then expire unread).</summary>
    public Task ForgetGuestsAsync(long userId, CancellationToken cancellationToken) =>
        redis.GetDatabase().StringIncrementAsync(keys.GuestConversationGeneration(userId)).WaitAsync(cancellationToken);

    private async Task<IReadOnlyList<ChatMessage>> LoadAsync(string key, string generationKey, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var blobRead = db.StringGetAsync(key);
        var generation = await GenerationAsync(db, generationKey).WaitAsync(cancellationToken).ConfigureAwait(false);
        var blob = await blobRead.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (blob.IsNull)
        {
            return [];
        }

        var json = sealer.Open((byte[])blob!, SealContext(key, generation));
        return json is null ? [] : JsonSerializer.Deserialize<List<ChatMessage>>(json) ?? [];
    }

    private async Task SaveAsync(string key, string generationKey, IReadOnlyList<ChatMessage> turns, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var generation = await GenerationAsync(db, generationKey).WaitAsync(cancellationToken).ConfigureAwait(false);
        var kept = Fit(turns, options.Value.ContextTokens - options.Value.MaxAnswerTokens);
        var blob = sealer.Seal(JsonSerializer.SerializeToUtf8Bytes(kept), SealContext(key, generation));
        await db.StringSetAsync(key, blob, options.Value.ConversationIdle).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Bumps the generation first (so no saved copy opens again), then deletes the blob.</summary>
    public async Task ClearAsync(long chatId, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        await db.StringIncrementAsync(keys.ConversationGeneration(chatId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        await db.KeyDeleteAsync(keys.Conversation(chatId)).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The associated data a conversation blob is sealed with: its key name, and its generation once bumped.</summary>
    public static string SealContext(string key, long generation) =>
        generation == 0 ? key : key + "#generation=" + generation.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<long> GenerationAsync(IDatabase db, string generationKey)
    {
        var value = await db.StringGetAsync(generationKey).ConfigureAwait(false);
        return value.TryParse(out long generation) ? generation : 0;
    }

    /// <summary>The most recent turns whose estimated size fits the budget; the newest turn is always kept (cut if it must be).</summary>
    public static IReadOnlyList<ChatMessage> Fit(IReadOnlyList<ChatMessage> turns, int budgetTokens)
    {
        ArgumentNullException.ThrowIfNull(turns);
        var kept = new List<ChatMessage>();
        var used = 0;
        for (var i = turns.Count - 1; i >= 0; i--)
        {
            var cost = EstimateTokens(turns[i].Content);
            if (used + cost > budgetTokens)
            {
                if (kept.Count == 0)
                {
                    var chars = Math.Max(1, (budgetTokens - 8) * 2);
                    var content = turns[i].Content;
                    kept.Add(turns[i] with { Content = content.Length > chars ? content[^chars..] : content });
                }

                break;
            }

            kept.Add(turns[i]);
            used += cost;
        }

        kept.Reverse();
        return kept;
    }

    /// <summary>
    /// A deliberately pessimistic estimate (the gateway has no tokenizer): about 3 bytes of UTF-8 per token for
    /// English, less for other scripts, plus the chat template's per-turn overhead.
    /// </summary>
    public static int EstimateTokens(string content) => ((Encoding.UTF8.GetByteCount(content ?? string.Empty) + 2) / 3) + 8;
}
