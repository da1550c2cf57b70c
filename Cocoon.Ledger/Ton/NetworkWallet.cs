using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Ton;

/// <summary>The network's own wallet v5r1: users pay into it (the deposit address) and payouts leave from it.</summary>
public sealed class NetworkWallet : IDisposable
{
    private readonly WalletKey _key;

    public NetworkWallet(IOptions<TonOptions> options)
    {
        var o = options.Value;
        _key = WalletKey.FromSecret(o.WalletSeed ?? throw new InvalidOperationException("Ton:WalletSeed is not set."));
        Wallet = new WalletV5R1(_key.PublicKey, 0, o.NetworkGlobalId);
        Testnet = o.Testnet;
    }

    public WalletV5R1 Wallet { get; }

    public TonAddress Address => Wallet.Address;

    public bool Testnet { get; }

    /// <summary>Wallets show deposit addresses non-bounceable (the wallet might not be deployed yet on a fresh network).</summary>
    public string DepositAddressText => Address.ToFriendly(bounceable: false, testOnly: Testnet);

    public Cell CreateTransfer(uint seqno, uint validUntil, IReadOnlyList<(InternalTransfer Message, byte Mode)> messages) =>
        Wallet.CreateTransfer(_key, seqno, validUntil, messages);

    public void Dispose() => _key.Dispose();
}
