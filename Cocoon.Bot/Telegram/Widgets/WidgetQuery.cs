using System.Text.Json;
using System.Text.Json.Serialization;
using global::Telegram.Bot.Types;

namespace Cocoon.Bot.Telegram.Widgets;

/// <summary>
/// A query from a widget (Bot API 10.4 WidgetQuery, the widget_query field of Update): "an incoming query from a
/// widget in a message sent by the bot or via the bot ... Each user can send at most 5 queries per 5 seconds".
/// Fields as core.telegram.org/bots/api#widgetquery, read through docs.aiogram.dev/en/v3.33.0/api/types/widget_query
/// (which quotes it); nothing here is guessed. The data comes from code running on the user's device: never trusted.
/// </summary>
public sealed class WidgetQuery
{
    /// <summary>id: "Unique identifier for this query".</summary>
    [JsonPropertyName("id")]
    public required string Id { get; set; }

    /// <summary>from: the sender.</summary>
    [JsonPropertyName("from")]
    public required User From { get; set; }

    /// <summary>chat_instance: "Global identifier, uniquely corresponding to the chat to which the message with the widget was sent".</summary>
    [JsonPropertyName("chat_instance")]
    public string? ChatInstance { get; set; }

    /// <summary>type: WidgetQueryTypeData, WidgetQueryTypeSignData or WidgetQueryTypeSentTransaction.</summary>
    [JsonPropertyName("type")]
    public required WidgetQueryType Type { get; set; }

    /// <summary>data: "Data of the query, 1-64 bytes".</summary>
    [JsonPropertyName("data")]
    public string? Data { get; set; }

    /// <summary>chat: "Chat with the message containing the widget; omitted if the widget is in an inline message".</summary>
    [JsonPropertyName("chat")]
    public Chat? Chat { get; set; }

    /// <summary>message_id: "Identifier of the message containing the widget; omitted if the widget is in an inline message".</summary>
    [JsonPropertyName("message_id")]
    public int? MessageId { get; set; }

    [JsonPropertyName("inline_message_id")]
    public string? InlineMessageId { get; set; }

    [JsonPropertyName("chat_type")]
    public string? ChatType { get; set; }

    [JsonPropertyName("widget_id")]
    public string? WidgetId { get; set; }
}

/// <summary>
/// WidgetQueryType, one object discriminated by "type" (Bot API 10.4): "data" (WidgetQueryTypeData: optional
/// wallet_card, "TON wallet card of the user who sent the query, if it was sent to the bot along with the query";
/// docs.aiogram.dev/en/v3.33.0/api/types/widget_query_type_data), "sign_data" (wallet, sign_data) and
/// "sent_transaction" (wallet, msg_hash: "The msg_hash value of the sent transaction"). The last two field lists
/// come from the televerse Dart binding's WidgetQueryType (pub.dev/documentation/televerse) and TDLib's
/// widgetQueryTypeSentTransaction, as the Bot API page for them could not be retrieved.
/// </summary>
public sealed class WidgetQueryType
{
    public const string DataType = "data";
    public const string SignDataType = "sign_data";
    public const string SentTransactionType = "sent_transaction";

    [JsonPropertyName("type")]
    public required string Type { get; set; }

    [JsonPropertyName("wallet_card")]
    public TonWalletCard? WalletCard { get; set; }

    [JsonPropertyName("wallet")]
    public WidgetQueryWallet? Wallet { get; set; }

    [JsonPropertyName("msg_hash")]
    public string? MsgHash { get; set; }

    [JsonPropertyName("sign_data")]
    public string? SignData { get; set; }
}

/// <summary>
/// TonWalletCard (core.telegram.org/bots/api#tonwalletcard via docs.aiogram.dev/en/v3.33.0/api/types/ton_wallet_card):
/// "a TON wallet card, which is shown on the profile page of a user to everyone".
/// </summary>
public sealed class TonWalletCard
{
    /// <summary>address: "Address of the wallet".</summary>
    [JsonPropertyName("address")]
    public required string Address { get; set; }

    /// <summary>amount: "Balance of the wallet, in the smallest units of the cryptocurrency, as a decimal number" (a string).</summary>
    [JsonPropertyName("amount")]
    public string? Amount { get; set; }

    /// <summary>stickers: "Stickers placed on the card" (TonWalletCardSticker[]; kept as JSON, the bot does not draw them).</summary>
    [JsonPropertyName("stickers")]
    public JsonElement? Stickers { get; set; }

    [JsonPropertyName("background_nft_address")]
    public string? BackgroundNftAddress { get; set; }
}

/// <summary>
/// WidgetQueryWallet: the user's wallet that signed data or sent a transaction. Fields from the televerse binding
/// (address, amount as a decimal string, public_key, state_init) and TDLib's widgetQueryWallet (address, amount,
/// public key, state init); the bot only reads the address.
/// </summary>
public sealed class WidgetQueryWallet
{
    [JsonPropertyName("address")]
    public required string Address { get; set; }

    [JsonPropertyName("amount")]
    public string? Amount { get; set; }

    [JsonPropertyName("public_key")]
    public string? PublicKey { get; set; }

    [JsonPropertyName("state_init")]
    public string? StateInit { get; set; }
}
