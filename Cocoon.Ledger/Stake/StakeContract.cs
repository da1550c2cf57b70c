using System.Numerics;
using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Stake;

/// <summary>A provider's position in the stake contract (nanotons), as its <c>position_of</c> get-method reports it.</summary>
public sealed record StakePosition(long Stake, long Pending, long UnbondingEnd, long SlashedTotal, string? LastSlashReason)
{
    public static StakePosition None { get; } = new(0, 0, 0, 0, null);

    /// <summary>What a slash can still take: the bonded stake plus the withdrawal still unbonding.</summary>
    public long AtStake => Stake + Pending;
}

/// <summary>The messages of Contracts/Stake/messages.tolk, built the way the contract reads them.</summary>
public static class StakeContract
{
    public const uint DepositOp = 0x5e7a0001;
    public const uint RequestWithdrawalOp = 0x5e7a0002;
    public const uint WithdrawOp = 0x5e7a0003;
    public const uint SlashOp = 0x5e7a0004;
    public const uint SlashPaidOp = 0x5e7a0011;

    /// <summary>What the network wallet attaches to a Slash for the contract's gas (the rest comes back with nothing: it pays the fees separately).</summary>
    public const long SlashGas = 50_000_000;

    /// <summary>Deposit { queryId }: the attached value, less the contract's deposit fee, is added to the sender's stake.</summary>
    public static Cell DepositBody(ulong queryId) => new CellBuilder().StoreUInt(DepositOp, 32).StoreUInt(queryId, 64).EndCell();

    /// <summary>RequestWithdrawal { queryId, amount }: moves that much of the sender's stake into a pending withdrawal.</summary>
    public static Cell RequestWithdrawalBody(ulong queryId, long amount) =>
        new CellBuilder().StoreUInt(RequestWithdrawalOp, 32).StoreUInt(queryId, 64).StoreCoins(amount).EndCell();

    /// <summary>Withdraw { queryId }: after the unbonding delay, pays the pending withdrawal back to the sender.</summary>
    public static Cell WithdrawBody(ulong queryId) => new CellBuilder().StoreUInt(WithdrawOp, 32).StoreUInt(queryId, 64).EndCell();

    /// <summary>A ton:// transfer link to the contract carrying <paramref name="body"/> (wallets read it from the bin parameter, base64url).</summary>
    public static string TransferLink(TonAddress contract, long amount, Cell body, bool testnet)
    {
        ArgumentNullException.ThrowIfNull(contract);
        ArgumentNullException.ThrowIfNull(body);
        var bin = Convert.ToBase64String(body.ToBoc()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ton://transfer/{contract.ToFriendly(bounceable: true, testOnly: testnet)}?amount={amount}&bin={bin}");
    }

    /// <summary>Slash { queryId, provider, amount, reasonHash, beneficiary }.</summary>
    public static Cell SlashBody(ulong queryId, TonAddress provider, long amount, ReadOnlySpan<byte> reasonHash, TonAddress beneficiary)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(beneficiary);
        if (reasonHash.Length != 32)
        {
            throw new ArgumentException("The reason hash is a 32-byte SHA-256.", nameof(reasonHash));
        }

        return new CellBuilder().StoreUInt(SlashOp, 32).StoreUInt(queryId, 64).StoreAddress(provider).StoreCoins(amount)
            .StoreBytes(reasonHash).StoreAddress(beneficiary).EndCell();
    }

    /// <summary>The reason hash of a Slash body, or null when the body is not a Slash.</summary>
    public static string? SlashReason(Cell body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            var s = body.BeginParse();
            if (s.RemainingBits < 32 || s.LoadUInt(32) != SlashOp)
            {
                return null;
            }

            s.LoadUInt(64);
            s.LoadAddress();
            s.LoadCoins();
            return Convert.ToHexStringLower(s.LoadBytes(32));
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The reason hash of a SlashPaid body (what the contract sends the beneficiary with the slashed TON: queryId,
    /// provider, reasonHash), or null when the body is not one.
    /// </summary>
    public static string? SlashPaidReason(Cell body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            var s = body.BeginParse();
            if (s.RemainingBits < 32 || s.LoadUInt(32) != SlashPaidOp)
            {
                return null;
            }

            s.LoadUInt(64);
            s.LoadAddress();
            return Convert.ToHexStringLower(s.LoadBytes(32));
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    /// <summary>The get-method argument that names a provider: a slice holding its address.</summary>
    public static Cell AddressArgument(TonAddress provider) => new CellBuilder().StoreAddress(provider).EndCell();

    internal static long ToLong(BigInteger value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
