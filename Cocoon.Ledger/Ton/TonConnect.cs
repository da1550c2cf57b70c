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
