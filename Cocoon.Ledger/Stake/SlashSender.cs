using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Logging;

namespace Cocoon.Ledger.Stake;

/// <summary>A slash to put on chain: take <see cref="Amount"/> from the provider's stake for the evidence whose SHA-256 is <see cref="ReasonHash"/>.</summary>
public sealed record SlashOrder(string ReasonHash, TonAddress Provider, long Amount, ulong QueryId);

/// <summary>One signed Slash message of the network wallet (stored before it is sent, so a restart looks for exactly it).</summary>
public sealed record SlashAttempt(string MessageHash, long CreatedAtMs, string BocBase64);

/// <summary>The slash as the chain shows it: the stake contract's transaction, whether it applied it, and what it took (sent to the network wallet).</summary>
public sealed record SlashOnChain(string ContractTransactionHash, bool Applied, long Taken);

/// <summary>
/// Sends Slash messages from the network wallet to the stake contract, crash-safe like the receipt anchors: the caller
/// stores each signed message (<see cref="SignAsync"/>) before it is sent, later rounds look for that message among the
/// wallet's transactions (<see cref="FindAsync"/>), and only a message that can no longer execute (valid_until passed,
/// <see cref="IsDead"/>) is replaced by a new one. So at most one Slash per stored order reaches the contract, whatever
/// crashes in between, and it shares the wallet's seqno with payouts and anchors without a lock: a message whose seqno
/// another took simply dies and is signed again.
/// </summary>
public sealed partial class SlashSender(ToncenterClient chain, NetworkWallet wallet, StakeReader stakes, TimeProvider clock, ILogger<SlashSender> logger)
{
    public static readonly TimeSpan Validity = TimeSpan.FromMinutes(2);

    /// <summary>Mode 1: the wallet pays the forwarding fee on top of the gas it attaches.</summary>
    private const byte PayFeesSeparately = 1;

    public async Task<SlashAttempt> SignAsync(SlashOrder order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        var contract = stakes.Contract ?? throw new InvalidOperationException("Ton:StakeContract is not set: there is no stake contract to slash on.");
        var info = await chain.GetWalletInformationAsync(wallet.Address, cancellationToken).ConfigureAwait(false);
        if (info.Seqno is not { } seqno)
        {
            throw new InvalidOperationException($"The network wallet {wallet.Address.ToRaw()} is not deployed; fund and deploy it before slashing.");
        }

        var now = clock.GetUtcNow();
        var body = StakeContract.SlashBody(order.QueryId, order.Provider, order.Amount, Convert.FromHexString(order.ReasonHash), wallet.Address);
        var message = wallet.CreateTransfer(seqno, (uint)(now + Validity).ToUnixTimeSeconds(), [(new InternalTransfer(contract, StakeContract.SlashGas, body, Bounce: true), PayFeesSeparately)]);
        return new SlashAttempt(Convert.ToBase64String(message.Hash), now.ToUnixTimeMilliseconds(), message.ToBocBase64());
    }

    /// <summary>Sends a stored message; a rejection is logged (the message dies at valid_until and is signed again then).</summary>
    public async Task SendAsync(SlashAttempt attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        try
        {
            await chain.SendBocAsync(Convert.FromBase64String(attempt.BocBase64), cancellationToken).ConfigureAwait(false);
        }
        catch (ToncenterException e)
        {
            LogSendRejected(logger, e, attempt.MessageHash);
        }
    }

    /// <summary>True once the message can never execute any more (its valid_until plus a margin for the chain's clock).</summary>
    public bool IsDead(SlashAttempt attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return clock.GetUtcNow() > DateTimeOffset.FromUnixTimeMilliseconds(attempt.CreatedAtMs) + Validity + TimeSpan.FromSeconds(30);
    }

    /// <summary>
    /// The stake contract's transaction of the order's Slash (an inbound message from the network wallet with its reason
    /// hash), searching back to <paramref name="sinceMs"/> (when the first message was signed); null while the chain
    /// does not show one. Searching by reason, not by message, finds it whichever signed message executed.
    /// </summary>
    public async Task<SlashOnChain?> FindAsync(SlashOrder order, long sinceMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        const int PageSize = 50;
        var contract = stakes.Contract ?? throw new InvalidOperationException("Ton:StakeContract is not set.");
        var since = (sinceMs / 1000) - 60;
        for (var offset = 0; ; offset += PageSize)
        {
            var page = await chain.GetTransactionsAsync(contract, null, null, PageSize, offset, ascending: false, cancellationToken).ConfigureAwait(false);
            var tx = page.FirstOrDefault(t => t.InMessage is { } m && m.Source == wallet.Address && m.BodyBoc is { } boc
                && SlashReasonOf(boc) == order.ReasonHash);
            if (tx is not null)
            {
                var applied = tx.Aborted != true;
                var taken = applied ? tx.OutMessages.Where(m => m.Destination == wallet.Address).Sum(m => m.Value) : 0;
                LogOnChain(logger, order.ReasonHash, taken, tx.Hash, applied);
                return new SlashOnChain(tx.Hash, applied, taken);
            }

            if (page.Count < PageSize || page[^1].Now < since)
            {
                return null;
            }
        }
    }

    private static string? SlashReasonOf(string boc)
    {
        try
        {
            return StakeContract.SlashReason(Cell.FromBocBase64(boc));
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = LogEvents.Stake + 1, Level = LogLevel.Warning, Message = "Sending slash message {MessageHash} was rejected; it is signed again once it expires")]
    private static partial void LogSendRejected(ILogger logger, Exception exception, string messageHash);

    [LoggerMessage(EventId = LogEvents.Stake + 2, Level = LogLevel.Information, Message = "Slash {ReasonHash} taking {Amount} nanotons is on chain in transaction {TxHash}; applied: {Applied}")]
    private static partial void LogOnChain(ILogger logger, string reasonHash, long amount, string txHash, bool applied);
}
