using System.Text.Json.Serialization;

namespace Cocoon.Ledger.Ton;

/// <summary>The TON Connect <c>sendTransaction</c> request the Mini App hands to the user's wallet.</summary>
public sealed record TonConnectTransaction(
    [property: JsonPropertyName("validUntil")] long ValidUntil,
    [property: JsonPropertyName("messages")] IReadOnlyList<TonConnectMessage> Messages,
    [property: JsonPropertyName("network")] string? Network = null);

/// <summary>Amount is a decimal string of nanotons and payload a base64 BoC, as the TON Connect spec wants.</summary>
public sealed record TonConnectMessage(
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("amount")] string Amount,
    [property: JsonPropertyName("payload")] string? Payload = null);

public static class TonConnect
{
    /// <summary>A top-up of <paramref name="amount"/> nanotons to the deposit address carrying the invoice comment.</summary>
    public static TonConnectTransaction TopUp(TonAddress depositAddress, long amount, string comment, DateTimeOffset validUntil, bool testnet = false)
    {
        ArgumentNullException.ThrowIfNull(depositAddress);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount);
        var message = new TonConnectMessage(
            depositAddress.ToFriendly(bounceable: false, testOnly: testnet),
            amount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TonMessages.Comment(comment).ToBocBase64());
        return new TonConnectTransaction(validUntil.ToUnixTimeSeconds(), [message], testnet ? "-3" : "-239");
    }
}

/// <summary>The <c>ton_proof</c> item of a TON Connect connect response, as the wallet sends it (JSON).</summary>
public sealed record TonConnectProof(
    [property: JsonPropertyName("timestamp")] long Timestamp,
    [property: JsonPropertyName("domain")] TonConnectProofDomain Domain,
    [property: JsonPropertyName("signature")] string Signature,
    [property: JsonPropertyName("payload")] string Payload,
    [property: JsonPropertyName("state_init")] string? StateInit);

public sealed record TonConnectProofDomain(
    [property: JsonPropertyName("lengthBytes")] int LengthBytes,
    [property: JsonPropertyName("value")] string Value);

/// <summary>What the Mini App posts to the login endpoint: the account part of the connect response plus the proof.</summary>
public sealed record TonConnectLogin(
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("network")] string? Network,
    [property: JsonPropertyName("public_key")] string? PublicKey,
    [property: JsonPropertyName("walletStateInit")] string WalletStateInit,
    [property: JsonPropertyName("proof")] TonConnectProof Proof)
{
    public TonProofRequest ToRequest() => new(
        Address,
        Proof.Domain.Value,
        Proof.Timestamp,
        Proof.Payload,
        Proof.Signature,
        Proof.StateInit is { Length: > 0 } s ? s : WalletStateInit,
        PublicKey);
}
