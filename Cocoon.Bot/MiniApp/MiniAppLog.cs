namespace Cocoon.Bot.MiniApp;

/// <summary>The Mini App's log lines: user ids, invoice ids, wallet addresses and reasons; never init data, hashes or tokens.</summary>
internal static partial class MiniAppLog
{
    [LoggerMessage(EventId = 3401, Level = LogLevel.Information, Message = "Mini App request refused: {Reason}")]
    public static partial void InitDataRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Information, Message = "TON top-up invoice {InvoiceId} for user {UserId}: {AmountNanotons} nanotons")]
    public static partial void InvoiceCreated(ILogger logger, Guid invoiceId, long userId, long amountNanotons);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Information, Message = "Wallet {Address} linked to user {UserId}")]
    public static partial void WalletLinked(ILogger logger, string address, long userId);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Information, Message = "ton_proof from user {UserId} refused: {Reason}")]
    public static partial void ProofRefused(ILogger logger, long userId, string reason);

    [LoggerMessage(EventId = 3405, Level = LogLevel.Warning, Message = "The Mini App is disabled: Telegram:BotToken (TELEGRAM_BOT_TOKEN) is not set, so init data cannot be validated")]
    public static partial void Disabled(ILogger logger);
}
