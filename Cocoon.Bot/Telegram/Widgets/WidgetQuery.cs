using System.Text.Json;
using System.Text.Json.Serialization;
using global::Telegram.Bot.Types;

namespace Cocoon.Bot.Telegram.Widgets;

/// <summary>
/// A query from a widget (Bot API 10.4 WidgetQuery, the widget_query field of Update): "an incoming query from a
/// widget in a message sent by the bot or via the bot ... Each user can send at most 5 queries per 5 seconds".
/// Fields as core.telegram.org/bots/api#widgetquery, read through docs.aiogram.dev/en/v3.33.0/api/types/widget_query
/// (generated from and quoting that page: id, from, chat_instance, type and data are always there); nothing here is
/// guessed. The data comes from code running on the user's device: never trusted.
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
/// WidgetQueryType, one object discriminated by "type" (Bot API 10.4). Confirmed from Telegram's text: the 10.4
/// changelog entry ("Added the classes WidgetQueryType, WidgetQueryTypeData, WidgetQueryTypeSignData,
/// WidgetQueryTypeSentTransaction and WidgetQueryWallet ... A query can contain data for the bot together with the
/// TON wallet card of the user, data signed by a TON wallet of the user, or a notification about a transaction sent
/// from a TON wallet of the user", quoted whole in github.com/nerzh/swift-telegram-bot/releases/tag/10.4.0; the
/// stored core.telegram.org/bots/api-changelog.md ends at 10.3) and WidgetQueryTypeData ("data", optional
/// wallet_card: "TON wallet card of the user who sent the query, if it was sent to the bot along with the query";
/// docs.aiogram.dev/en/v3.33.0/api/types/widget_query_type_data, Source: core.telegram.org/bots/api#widgetquerytypedata).
/// NOT confirmed from Telegram's pages (none stored for them): the field names of "sign_data" (wallet, sign_data) and
/// "sent_transaction" (wallet, msg_hash). They come from the televerse Dart binding's generated WidgetQueryType
/// (pub.dev/documentation/televerse) and agree with TDLib's widgetQueryTypeSentTransaction (wallet, msg_hash) and
/// the MTProto constructor widgetQueryTypeSentTransaction (wallet, msg_hash). The bot only logs them.
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
/// WidgetQueryWallet: the user's wallet that signed data or sent a transaction. The class is in Telegram's 10.4
/// changelog; its fields are NOT confirmed from a Telegram page: address, public_key and state_init agree across
/// the televerse binding, TDLib's widgetQueryWallet and MTProto's userWallet; the balance's name (amount, a decimal
/// string) is televerse's alone (TDLib says gram_amount, MTProto balance). The bot only reads the address, to log it.
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
