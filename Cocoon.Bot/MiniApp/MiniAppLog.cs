namespace Cocoon.Bot.MiniApp;

/// <summary>The Mini App's log lines: user ids, invoice ids, wallet addresses and reasons; never init data, hashes or tokens.</summary>
internal static partial class MiniAppLog
{
    [LoggerMessage(EventId = LogEvents.MiniApp + 1, Level = LogLevel.Information, Message = "Mini App request refused: {Reason}")]
    public static partial void InitDataRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.MiniApp + 2, Level = LogLevel.Information, Message = "TON top-up invoice {InvoiceId} for user {UserId}: {AmountNanotons} nanotons")]
    public static partial void InvoiceCreated(ILogger logger, Guid invoiceId, long userId, long amountNanotons);

    [LoggerMessage(EventId = LogEvents.MiniApp + 3, Level = LogLevel.Information, Message = "Wallet {Address} linked to user {UserId}")]
    public static partial void WalletLinked(ILogger logger, string address, long userId);

    [LoggerMessage(EventId = LogEvents.MiniApp + 4, Level = LogLevel.Information, Message = "ton_proof from user {UserId} refused: {Reason}")]
    public static partial void ProofRefused(ILogger logger, long userId, string reason);

    [LoggerMessage(EventId = LogEvents.MiniApp + 5, Level = LogLevel.Warning, Message = "The Mini App is disabled: Telegram:BotToken (TELEGRAM_BOT_TOKEN) is not set, so init data cannot be validated")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(EventId = LogEvents.MiniApp + 6, Level = LogLevel.Warning, Message = "The Mini App's front end is not built: /miniapp/ answers 503 until `./cocoon up` builds Cocoon.Bot/MiniApp/web (or MiniApp:WebRoot names a built copy)")]
    public static partial void NotBuilt(ILogger logger);

    [LoggerMessage(EventId = LogEvents.MiniApp + 7, Level = LogLevel.Information, Message = "Mini App answer {RequestId} for user {UserId}: {Model} on {WorkerId}, {PromptTokens}+{CompletionTokens} tokens, {CostNanotons} nanotons")]
    public static partial void ChatAnswered(ILogger logger, string requestId, long userId, string model, string workerId, int promptTokens, int completionTokens, long costNanotons);

    [LoggerMessage(EventId = LogEvents.MiniApp + 8, Level = LogLevel.Information, Message = "Mini App chat {RequestId} for user {UserId} refused: {Code}")]
    public static partial void ChatRefused(ILogger logger, string requestId, long userId, string code);

    [LoggerMessage(EventId = LogEvents.MiniApp + 9, Level = LogLevel.Information, Message = "Mini App answer {RequestId} for user {UserId} stopped by the user")]
    public static partial void ChatStopped(ILogger logger, string requestId, long userId);

    [LoggerMessage(EventId = LogEvents.MiniApp + 10, Level = LogLevel.Warning, Message = "Mini App answer {RequestId} for user {UserId} failed: {Code}")]
    public static partial void ChatFailed(ILogger logger, string requestId, long userId, string code, Exception exception);
}
