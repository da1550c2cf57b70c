using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Stake;

/// <summary>
/// Reads providers' positions from the stake contract (Ton:StakeContract) through toncenter's runGetMethod. A provider
/// is its payout address: the wallet that deposits the stake is the one the network pays. Not cached: the gateway's
/// StakeCache keeps what it read for a few seconds.
/// </summary>
public sealed class StakeReader(ToncenterClient chain, IOptions<TonOptions> options)
{
    /// <summary>The stake contract, or null when none is configured (stakes are then not checked).</summary>
    public TonAddress? Contract => options.Value.StakeContract is { Length: > 0 } text ? TonAddress.Parse(text) : null;

    /// <summary>The provider's position; <see cref="StakePosition.None"/> when it never deposited.</summary>
    public async Task<StakePosition> ReadAsync(TonAddress provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var contract = Contract ?? throw new InvalidOperationException("Ton:StakeContract is not set: there is no stake contract to read.");
        var result = await chain.RunGetMethodAsync(contract, "position_of", [StakeContract.AddressArgument(provider)], cancellationToken).ConfigureAwait(false);
        if (result.ExitCode is not (0 or 1) || result.Stack.Count < 5)
        {
            throw new ToncenterException($"The stake contract's position_of failed with exit code {result.ExitCode} ({result.Stack.Count} stack entries).");
        }

        var reason = result.Stack[4].AsNumber();
        return new StakePosition(
            StakeContract.ToLong(result.Stack[0].AsNumber()),
            StakeContract.ToLong(result.Stack[1].AsNumber()),
            StakeContract.ToLong(result.Stack[2].AsNumber()),
            StakeContract.ToLong(result.Stack[3].AsNumber()),
            reason.IsZero ? null : Convert.ToHexStringLower(ToBytes32(reason)));
    }

    /// <summary>What the contract keeps of each deposit (its deposit_fee get-method), in nanotons.</summary>
    public async Task<long> DepositFeeAsync(CancellationToken cancellationToken)
    {
        var contract = Contract ?? throw new InvalidOperationException("Ton:StakeContract is not set: there is no stake contract to read.");
        var result = await chain.RunGetMethodAsync(contract, "deposit_fee", [], cancellationToken).ConfigureAwait(false);
        return result.ExitCode is 0 or 1 && result.Stack.Count >= 1
            ? StakeContract.ToLong(result.Stack[0].AsNumber())
            : throw new ToncenterException($"The stake contract's deposit_fee failed with exit code {result.ExitCode}.");
    }

    private static byte[] ToBytes32(System.Numerics.BigInteger value)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[32];
        bytes.CopyTo(padded, 32 - bytes.Length);
        return padded;
    }
}
