using Cocoon.Engine.Protocol;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Stake;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Slashing;

/// <summary>
/// Turns a proven fault into a slash: reads the provider's stake, lets <see cref="SlashingPolicy.Decide"/> say how much
/// and who gets it, writes the evidence record (its SHA-256 is the reason hash the contract keeps, so the provider can
/// look the fault up), stores the slash once per fault key (<see cref="SlashBook"/>), and drives it to the chain:
/// a Slash message from the network wallet (<see cref="SlashSender"/>, crash-safe), then, once the stake contract
/// applied it, the ledger entries keyed by the reason hash: the affected user's share refunded, the rest to the
/// network, both from the hot wallet that received the slashed TON. Only proven faults come here (a lost tie-break, a
/// failed canary, a receipt overclaim); slow or dropped jobs cost reputation, never stake.
/// </summary>
public sealed partial class Slasher(
    SlashBook book,
    StakeCache stakes,
    IServiceProvider services,
    ILedger ledger,
    IOptions<StakeOptions> options,
    TimeProvider time,
    ILogger<Slasher> logger)
{
    public const string RefundKeyPrefix = "slash-refund:";
    public const string NetworkKeyPrefix = "slash:";

    private static readonly TimeSpan LockTime = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Slashes the worker's provider for a proven fault (once per <paramref name="faultKey"/>); returns the slash as it
    /// stands, or null when nothing can be slashed (stakes off, no payout address, nothing at stake). Never throws for
    /// the chain or Redis being away: a stored slash is pushed on by <see cref="SlashService"/>.
    /// </summary>
    public async Task<SlashRecord?> ProvenAsync(
        Fault fault, string workerId, string providerId, AccountId? payer, string faultKey, IReadOnlyDictionary<string, string> detail, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(detail);
        if (!stakes.Enabled)
        {
            LogStakesOff(logger, fault.ToString(), workerId);
            return null;
        }

        try
        {
            var read = await stakes.ReadAsync(providerId, cancellationToken).ConfigureAwait(false);
            if (read is not ({ } position, { } address, true) || position.AtStake <= 0)
            {
                LogNothingAtStake(logger, fault.ToString(), workerId, providerId);
                return null;
            }

            var decision = options.Value.Policy().Decide(fault, position.AtStake);
            var toUser = payer is null ? 0 : decision.ToUser;
            var now = time.GetUtcNow();
            var evidence = Evidence(fault, faultKey, workerId, providerId, address, position, decision.Amount, toUser, payer, detail, now);
            var record = new SlashRecord
            {
                ReasonHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(evidence))),
                FaultKey = faultKey,
                Fault = fault.ToString(),
                ProviderId = providerId,
                ProviderAddress = address.ToRaw(),
                WorkerId = workerId,
                Amount = decision.Amount,
                ToUser = toUser,
                ToNetwork = decision.Amount - toUser,
                Payer = payer?.Value,
                Evidence = evidence,
                CreatedAtMs = now.ToUnixTimeMilliseconds(),
            };
            var (stored, created) = await book.CreateAsync(record, cancellationToken).ConfigureAwait(false);
            if (created)
            {
                LogDecided(logger, fault.ToString(), workerId, providerId, stored.Amount, stored.ToUser, stored.ReasonHash);
            }

            // Sign and send, then settle (the local chain executes at once; a real one is settled by the service).
            await StepAsync(stored.ReasonHash, cancellationToken).ConfigureAwait(false);
            await StepAsync(stored.ReasonHash, cancellationToken).ConfigureAwait(false);
            return await book.GetAsync(stored.ReasonHash, cancellationToken).ConfigureAwait(false) ?? stored;
        }
        catch (Exception e) when (e is RedisException or ToncenterException or HttpRequestException or TimeoutException)
        {
            LogStepFailed(logger, faultKey, e);
            return null;
        }
    }

    /// <summary>Runs a spot-check replay (<see cref="Replays.CheckAsync"/>) and slashes the original worker's provider when the tie-break proves it wrong; never throws.</summary>
    public async Task<ReplayResult> ReplayAsync(
        Replays replays, DispatchRequest request, EligibleWorker worker, string delivered, IReadOnlyList<int>? answerTokens, FinishReason finish)
    {
        ArgumentNullException.ThrowIfNull(replays);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(worker);
        var result = await replays.CheckAsync(request, worker, delivered, answerTokens, finish, CancellationToken.None).ConfigureAwait(false);
        if (result == ReplayResult.OriginalFaulted)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await ProvenAsync(Fault.LostTieBreak, worker.Document.WorkerId, worker.ProviderId, request.Payer, "tie-break:" + request.RequestId,
                new Dictionary<string, string> { ["request"] = request.RequestId, ["model"] = worker.Document.ModelSha256, ["verdict"] = "two other workers agreed on another answer" },
                timeout.Token).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// One step of a pending slash, under a short Redis lock: settle it when the chain shows it, else (re)sign a
    /// message when none is alive, storing it before it is sent.
    /// </summary>
    public async Task StepAsync(string reasonHash, CancellationToken cancellationToken)
    {
        var owner = Guid.NewGuid().ToString("N");
        if (!await book.TryLockAsync(reasonHash, owner, LockTime).ConfigureAwait(false))
        {
            return;
        }

        try
        {
            var record = await book.GetAsync(reasonHash, cancellationToken).ConfigureAwait(false);
            if (record is null || record.State != SlashStates.Pending)
            {
                return;
            }

            var sender = services.GetRequiredService<SlashSender>();
            var order = new SlashOrder(record.ReasonHash, TonAddress.Parse(record.ProviderAddress), record.Amount, record.QueryId);
            if (record.FirstSignedAtMs is { } first)
            {
                if (await sender.FindAsync(order, first, cancellationToken).ConfigureAwait(false) is { } onChain)
                {
                    await SettleAsync(record, onChain, cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (record.Attempt is { } alive && !sender.IsDead(alive))
                {
                    return;
                }
            }

            var attempt = await sender.SignAsync(order, cancellationToken).ConfigureAwait(false);
            await book.SaveAsync(record with { Attempt = attempt, FirstSignedAtMs = record.FirstSignedAtMs ?? attempt.CreatedAtMs }, cancellationToken).ConfigureAwait(false);
            await sender.SendAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await book.ReleaseAsync(reasonHash, owner).ConfigureAwait(false);
        }
    }

    private async Task SettleAsync(SlashRecord record, SlashOnChain onChain, CancellationToken cancellationToken)
    {
        if (!onChain.Applied)
        {
            await book.SaveAsync(record with { State = SlashStates.Refused, TransactionHash = onChain.ContractTransactionHash }, cancellationToken).ConfigureAwait(false);
            LogRefused(logger, record.ReasonHash, record.ProviderId, onChain.ContractTransactionHash);
            return;
        }

        // The contract takes what is left when the stake shrank since it was read: the user's share comes first.
        var taken = Math.Min(record.Amount, onChain.Taken);
        var toUser = Math.Min(record.ToUser, taken);
        var toNetwork = taken - toUser;
        if (toUser > 0 && record.Payer is { } payer)
        {
            await ledger.CreditAsync(new AccountId(payer), toUser, AccountId.TonHotWallet, RefundKeyPrefix + record.ReasonHash, cancellationToken).ConfigureAwait(false);
        }

        if (toNetwork > 0)
        {
            await ledger.CreditAsync(AccountId.NetworkFee, toNetwork, AccountId.TonHotWallet, NetworkKeyPrefix + record.ReasonHash, cancellationToken).ConfigureAwait(false);
        }

        await book.SaveAsync(record with { State = SlashStates.Applied, TransactionHash = onChain.ContractTransactionHash, Amount = taken, ToUser = toUser, ToNetwork = toNetwork }, cancellationToken).ConfigureAwait(false);
        stakes.Invalidate(record.ProviderId);
        LogApplied(logger, record.ReasonHash, record.ProviderId, taken, toUser, onChain.ContractTransactionHash);
    }

    /// <summary>The evidence record: compact JSON with a fixed field order, so its bytes (and hash) are what was decided.</summary>
    private static string Evidence(
        Fault fault, string faultKey, string workerId, string providerId, TonAddress address, StakePosition position, long amount, long toUser,
        AccountId? payer, IReadOnlyDictionary<string, string> detail, DateTimeOffset at)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteString("fault", fault.ToString());
            w.WriteString("faultKey", faultKey);
            w.WriteString("worker", workerId);
            w.WriteString("provider", providerId);
            w.WriteString("providerAddress", address.ToRaw());
            w.WriteNumber("stakeRead", position.AtStake);
            w.WriteNumber("amount", amount);
            w.WriteNumber("toUser", toUser);
            w.WriteString("refunded", payer?.Value ?? "network");
            w.WriteNumber("atMs", at.ToUnixTimeMilliseconds());
            w.WriteStartObject("detail");
            foreach (var (k, v) in detail.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [LoggerMessage(EventId = LogEvents.Slashing + 10, Level = LogLevel.Warning, Message = "Proven fault {Fault} of {WorkerId}: not slashed, no stake contract is configured (Ton:StakeContract)")]
    private static partial void LogStakesOff(ILogger logger, string fault, string workerId);

    [LoggerMessage(EventId = LogEvents.Slashing + 11, Level = LogLevel.Warning, Message = "Proven fault {Fault} of {WorkerId}: provider {ProviderId} has nothing at stake (or no payout address its Telegram user proved with ton_proof)")]
    private static partial void LogNothingAtStake(ILogger logger, string fault, string workerId, string providerId);

    [LoggerMessage(EventId = LogEvents.Slashing + 12, Level = LogLevel.Warning, Message = "Proven fault {Fault} of {WorkerId}: slashing provider {ProviderId} by {Amount} nanotons ({ToUser} to the user), reason {ReasonHash}")]
    private static partial void LogDecided(ILogger logger, string fault, string workerId, string providerId, long amount, long toUser, string reasonHash);

    [LoggerMessage(EventId = LogEvents.Slashing + 13, Level = LogLevel.Information, Message = "Slash {ReasonHash} of provider {ProviderId} applied on chain: {Taken} nanotons, {ToUser} refunded to the user, transaction {TxHash}")]
    private static partial void LogApplied(ILogger logger, string reasonHash, string providerId, long taken, long toUser, string txHash);

    [LoggerMessage(EventId = LogEvents.Slashing + 14, Level = LogLevel.Warning, Message = "Slash {ReasonHash} of provider {ProviderId} was refused by the stake contract (transaction {TxHash})")]
    private static partial void LogRefused(ILogger logger, string reasonHash, string providerId, string txHash);

    [LoggerMessage(EventId = LogEvents.Slashing + 15, Level = LogLevel.Warning, Message = "Slash for fault {FaultKey}: a step failed; the slash service retries")]
    private static partial void LogStepFailed(ILogger logger, string faultKey, Exception exception);
}
