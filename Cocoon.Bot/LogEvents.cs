namespace Cocoon.Bot;

/// <summary>
/// The one registry of this project's log event ids (3000–4999): each feature owns a block of ids and its
/// [LoggerMessage] attributes use <c>EventId = LogEvents.Feature + n</c>, so an id is unique across the project at a
/// glance, and a test checks that every id across all projects is unique and inside its project's range.
/// </summary>
internal static class LogEvents
{
    public const int First = 3000;

    public const int Last = 4999;

    /// <summary>OpenAI-compatible API: requests, keys, refusals (Api/ApiLog.cs).</summary>
    public const int Api = 3000;

    /// <summary>The attested worker view (Dispatch/WorkerDirectory.cs).</summary>
    public const int WorkerDirectory = 3100;

    /// <summary>The result stream reader (Dispatch/ResultRouter.cs).</summary>
    public const int Results = 3150;

    /// <summary>Re-dispatch (Dispatch/Dispatcher.cs).</summary>
    public const int Dispatch = 3200;

    /// <summary>One attempt on one worker (Dispatch/AttemptRunner.cs).</summary>
    public const int Attempts = 3250;

    /// <summary>Receipts: storing them for their payer, anchoring their roots (Receipts/).</summary>
    public const int Receipts = 3270;

    /// <summary>Holds, charges, releases (Billing/JobBilling.cs).</summary>
    public const int Billing = 3300;

    /// <summary>Unhandled failures and unreadable bodies, answered as JSON (Hosting/ErrorBodyMiddleware.cs).</summary>
    public const int Errors = 3350;

    /// <summary>The Mini App and its API (MiniApp/MiniAppLog.cs).</summary>
    public const int MiniApp = 3400;

    /// <summary>Providers' workers joining the network (Join/).</summary>
    public const int Join = 3500;

    /// <summary>Threshold payouts (Payouts/ThresholdPayoutService.cs).</summary>
    public const int Payouts = 3600;

    /// <summary>Client-sealed requests relayed unopened (Dispatch/SealedRelay.cs).</summary>
    public const int SealedRelay = 3700;

    /// <summary>Worker reputation, spot checks, canaries and SLA refunds (Reputation/).</summary>
    public const int Reputation = 3800;

    /// <summary>The bot's start-up (Telegram/TelegramHosting.cs).</summary>
    public const int TelegramHosting = 4000;

    /// <summary>Provider stakes and slashing (Slashing/).</summary>
    public const int Slashing = 3900;

    /// <summary>The sealed update inbox (Telegram/Updates/UpdatePump.cs).</summary>
    public const int UpdatePump = 4020;

    /// <summary>GetUpdates and webhooks (Telegram/Updates/UpdateSource.cs).</summary>
    public const int UpdateSource = 4040;

    /// <summary>Calls to the Bot API (Telegram/Transport/BotApiHandler.cs).</summary>
    public const int BotApi = 4100;

    /// <summary>Streaming answers (Telegram/Chats/AnswerStreamer.cs).</summary>
    public const int Answers = 4200;

    /// <summary>Asking the network (Telegram/Chats/AnswerService.cs).</summary>
    public const int AnswerService = 4300;

    /// <summary>Groups (Telegram/Groups/GroupHandler.cs).</summary>
    public const int Groups = 4400;

    /// <summary>Guest mode (Telegram/Guests/GuestHandler.cs).</summary>
    public const int Guests = 4450;

    /// <summary>Stars (Telegram/Payments/StarsPayments.cs).</summary>
    public const int Payments = 4500;

    /// <summary>Provider commands (Telegram/Providers/ProviderCommands.cs).</summary>
    public const int Providers = 4600;

    /// <summary>The /topup widget and widget queries (Telegram/Widgets/TopUpWidgets.cs).</summary>
    public const int Widgets = 4700;
}
