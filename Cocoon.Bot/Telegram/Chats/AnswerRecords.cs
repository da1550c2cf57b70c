using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Hosting;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>Where an answer to one chat message got to before the process may have stopped.</summary>
public enum AnswerProgress
{
    /// <summary>Nothing recorded: ask the network.</summary>
    None,

    /// <summary>The answer is settled (charged from its receipt) but perhaps not sent: send the kept copy, ask nobody.</summary>
    Settled,

    /// <summary>The final message went out: send nothing, only finish the bookkeeping after it.</summary>
    Sent,
}

/// <summary>An answer as kept between settling and sending it (sealed with the host key at rest).</summary>
public sealed record KeptAnswer(string Text, DispatchReceipt? Receipt, bool Stopped);

/// <summary>
/// The record that makes settling and sending an answer idempotent per chat message: an update handled again after a
/// crash between settling its answer and completing its inbox entry (the inbox replays it, here or on another replica)
/// must neither run inference again nor send the answer twice. Keyed by the update_id, so only a replay of the same
/// update finds it. The text is sealed with the host key like the conversation; the record expires with the inbox's
/// done markers.
/// </summary>
public sealed class AnswerRecords(IConnectionMultiplexer redis, TelegramKeys keys, HostKeySealer sealer)
{
    private const string StateField = "state";
    private const string AnswerField = "answer";
    private const string SettledState = "settled";
    private const string SentState = "sent";

    /// <summary>As long as the inbox remembers a handled update (Telegram redelivers for at most 24 hours).</summary>
    private static readonly TimeSpan Keep = TimeSpan.FromDays(3);

    public async Task<(AnswerProgress Progress, KeptAnswer? Answer)> GetAsync(string updateId, CancellationToken cancellationToken)
    {
        var values = await redis.GetDatabase().HashGetAsync(keys.Answer(updateId), [StateField, AnswerField]).WaitAsync(cancellationToken).ConfigureAwait(false);
        var progress = (string?)values[0] switch
        {
            SentState => AnswerProgress.Sent,
            SettledState => AnswerProgress.Settled,
            _ => AnswerProgress.None,
        };
        if (progress == AnswerProgress.None || values[1].IsNullOrEmpty)
        {
            return (AnswerProgress.None, null);
        }

        // A blob this host key cannot open (rotated key) is as good as none for the text; a sent answer stays sent.
        var json = sealer.Open((byte[])values[1]!, Context(updateId));
        var answer = json is null ? null : JsonSerializer.Deserialize(json, KeptAnswerJsonContext.Default.KeptAnswer);
        return answer is null && progress == AnswerProgress.Settled ? (AnswerProgress.None, null) : (progress, answer);
    }

    /// <summary>The answer is settled: kept (sealed) until it has been sent.</summary>
    public Task SettledAsync(string updateId, KeptAnswer answer, CancellationToken cancellationToken) =>
        WriteAsync(updateId, SettledState, answer, cancellationToken);

    /// <summary>The final message went out: a replay sends nothing.</summary>
    public Task SentAsync(string updateId, KeptAnswer answer, CancellationToken cancellationToken) =>
        WriteAsync(updateId, SentState, answer, cancellationToken);

    private async Task WriteAsync(string updateId, string state, KeptAnswer answer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var key = keys.Answer(updateId);
        var blob = sealer.Seal(JsonSerializer.SerializeToUtf8Bytes(answer, KeptAnswerJsonContext.Default.KeptAnswer), Context(updateId));
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.HashSetAsync(key, [new HashEntry(StateField, state), new HashEntry(AnswerField, blob)]);
        _ = tx.KeyExpireAsync(key, Keep);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Context(string updateId) => "telegram-answer:" + updateId;
}

/// <summary>
/// Points a test stops the process at (by blocking until shutdown) to play a crash between settling an answer and
/// completing its inbox entry. Null (the default, and always outside tests) does nothing.
/// </summary>
public sealed class AnswerFaultPoints
{
    /// <summary>After the answer was settled and recorded, before its final message is sent.</summary>
    public Func<string, CancellationToken, Task>? AfterSettled { get; set; }

    /// <summary>After the final message was sent and recorded, before the update's inbox entry is completed.</summary>
    public Func<string, CancellationToken, Task>? AfterSent { get; set; }
}

[JsonSerializable(typeof(KeptAnswer))]
internal sealed partial class KeptAnswerJsonContext : JsonSerializerContext;
