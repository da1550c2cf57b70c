using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Telegram;

public enum TelegramMode
{
    Polling,
    Webhook,
}

/// <summary>Configuration section "Telegram". TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE_URL map onto BotToken and ApiBaseUrl.</summary>
public sealed class TelegramOptions : IValidatableObject
{
    public const string Section = "Telegram";

    /// <summary>The bot token from @BotFather; without it the bot is off and everything else runs.</summary>
    public string? BotToken { get; set; }

    /// <summary>Another Bot API server (a local telegram-bot-api, or a test fake). Default: Telegram's.</summary>
    public string? ApiBaseUrl { get; set; }

    public TelegramMode Mode { get; set; } = TelegramMode.Polling;

    /// <summary>Public HTTPS URL Telegram posts updates to (webhook mode).</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>Compared with X-Telegram-Bot-Api-Secret-Token on every webhook delivery (webhook mode).</summary>
    public string? WebhookSecret { get; set; }

    public string WebhookPath { get; set; } = "/telegram/webhook";

    /// <summary>Long-poll timeout passed to getUpdates.</summary>
    [Range(0, 50)]
    public int PollTimeoutSeconds { get; set; } = 25;

    /// <summary>Chats handled in parallel; updates of one chat always go through the same lane, in order.</summary>
    [Range(1, 1024)]
    public int ParallelChats { get; set; } = 32;

    /// <summary>Updates waiting per lane before polling waits (back pressure).</summary>
    [Range(1, 10_000)]
    public int LaneCapacity { get; set; } = 64;

    /// <summary>
    /// How long a gateway replica owns an inbox update it is handling without renewing (it renews every third of
    /// this while the handler runs). An update whose owner died is taken over by another replica after this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Telegram:InboxLease must be between 1 second and 1 hour.")]
    public TimeSpan InboxLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Telegram allows about 30 messages a second across all chats.</summary>
    [Range(0.1, 1000)]
    public double MessagesPerSecond { get; set; } = 30;

    /// <summary>Telegram allows about 20 messages a minute in one group.</summary>
    [Range(1, 1000)]
    public int GroupMessagesPerMinute { get; set; } = 20;

    /// <summary>How long a group answer may wait for the group's rate limit before it is declined politely.</summary>
    public TimeSpan GroupMaxWait { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Minimum time between two edits of a streamed answer in a private chat.</summary>
    public TimeSpan EditInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Minimum time between two edits of a streamed answer in a group (edits count against the group's limit).</summary>
    public TimeSpan GroupEditInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Use sendMessageDraft for streaming in private chats (falls back to edits if the server refuses it).</summary>
    public bool UseDrafts { get; set; } = true;

    /// <summary>Drafts carry a Stop button (Bot API 10.3 can_stop); pressing it cancels the job and keeps what was written.</summary>
    public bool AllowStop { get; set; } = true;

    /// <summary>Answers are sent as formatted text (the model's Markdown turned into entities), plain text as the fallback.</summary>
    public bool RichAnswers { get; set; } = true;

    /// <summary>Put the trust tier an answer was served in (tee, simulated, consumer) on a line under it.</summary>
    public bool ShowTier { get; set; } = true;

    /// <summary>Answer when @-mentioned as a guest in chats the bot is not a member of (Bot API 10.0 guest_message).</summary>
    public bool GuestMode { get; set; } = true;

    /// <summary>A conversation is forgotten after this long without a message.</summary>
    public TimeSpan ConversationIdle { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Tokens of context the conversation may fill (the model's context); the answer's MaxAnswerTokens come off it.</summary>
    [Range(256, 1_000_000)]
    public int ContextTokens { get; set; } = 2048;

    [Range(16, 100_000)]
    public int MaxAnswerTokens { get; set; } = 512;

    /// <summary>Model used until a user picks one with /model; empty = the first model the network serves.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>Credit given once to every new user, in nanotons.</summary>
    [Range(0, long.MaxValue)]
    public long FreeAllowanceNanotons { get; set; } = 50_000_000;

    /// <summary>Nanotons credited per Telegram Star.</summary>
    [Range(1, long.MaxValue)]
    public long NanotonsPerStar { get; set; } = 4_000_000;

    /// <summary>Star amounts offered by /topup.</summary>
    public IList<int> TopUpStars { get; } = [];

    /// <summary>
    /// /topup also sends a TON top-up widget (Bot API 10.4 sendWidget) under the Stars offer when the gateway has TON
    /// (a chain API): the user's linked wallet, the deposit address and comment, and the transfer request. Off by
    /// default: the widget has no script of its own (Telegram's widget JavaScript API could not be read, see
    /// <see cref="Widgets.TopUpWidgetHtml"/>), so it cannot hand the transfer to the user's wallet in the chat, which
    /// is its point; whether its ton:// link can even be followed inside the widget sandbox ("no network access at
    /// all") is not documented where we could read; and every widget opens a deposit invoice. The Stars answer and the
    /// Mini App's TON top-up cover every client meanwhile. Operators who want the card can turn it on.
    /// </summary>
    public bool TopUpWidget { get; set; }

    /// <summary>The TON amount (nanotons) the /topup widget's transfer request asks for; the user's wallet may change it.</summary>
    [Range(1, long.MaxValue, ErrorMessage = "Telegram:TopUpWidgetNanotons must be a positive number of nanotons.")]
    public long TopUpWidgetNanotons { get; set; } = 1_000_000_000;

    /// <summary>How long the widget's transfer request (TON Connect validUntil) is valid.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00", ErrorMessage = "Telegram:TopUpWidgetValidity must be between 1 minute and 1 day.")]
    public TimeSpan TopUpWidgetValidity { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The Mini App's URL for the /topup button (TON payments); no button when empty.</summary>
    public string? MiniAppUrl { get; set; }

    /// <summary>
    /// Base64 32-byte key that encrypts conversations and queued updates at rest; required with Telegram on, and the
    /// same on every gateway replica (`./cocoon up` makes one under COCOON_DATA).
    /// </summary>
    public string? HostKey { get; set; }

    /// <summary>Telegram user ids allowed to refund Stars payments with /refund.</summary>
    public IList<long> OperatorUserIds { get; } = [];

    /// <summary>Redis key prefix, so several bots (or tests) share one Redis.</summary>
    public string RedisPrefix { get; set; } = "cocoon:tg";

    public bool Enabled => !string.IsNullOrWhiteSpace(BotToken);

    public IReadOnlyList<int> EffectiveTopUpStars => TopUpStars.Count > 0 ? [.. TopUpStars] : [50, 250, 1000];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (!BotToken!.Contains(':', StringComparison.Ordinal))
        {
            yield return new ValidationResult(
                "Telegram:BotToken (TELEGRAM_BOT_TOKEN) is not a bot token: expected '<bot id>:<secret>' as @BotFather gives it.",
                [nameof(BotToken)]);
        }

        if (ApiBaseUrl is { Length: > 0 } && !Uri.TryCreate(ApiBaseUrl, UriKind.Absolute, out _))
        {
            yield return new ValidationResult(
                "Telegram:ApiBaseUrl (TELEGRAM_API_BASE_URL) must be an absolute URL such as http://127.0.0.1:8081, or unset for Telegram's servers.",
                [nameof(ApiBaseUrl)]);
        }

        if (Mode == TelegramMode.Webhook)
        {
            if (!Uri.TryCreate(WebhookUrl, UriKind.Absolute, out _))
            {
                yield return new ValidationResult(
                    "Telegram:WebhookUrl must be the public https URL of Telegram:WebhookPath when Telegram:Mode is Webhook.",
                    [nameof(WebhookUrl)]);
            }

            if (WebhookSecret is not { Length: >= 16 and <= 256 } || !WebhookSecret.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                yield return new ValidationResult(
                    "Telegram:WebhookSecret must be 16-256 characters of A-Z, a-z, 0-9, _ and - when Telegram:Mode is Webhook (Telegram echoes it in X-Telegram-Bot-Api-Secret-Token).",
                    [nameof(WebhookSecret)]);
            }
        }

        var hostKey = new byte[64];
        if (HostKey is not { Length: > 0 } || !Convert.TryFromBase64String(HostKey, hostKey, out var n) || n != 32)
        {
            yield return new ValidationResult(
                "Telegram:HostKey must be 32 random bytes in base64 (openssl rand -base64 32), the same on every gateway replica; " +
                "it encrypts conversations and queued updates in Redis (`./cocoon up` makes one under COCOON_DATA).",
                [nameof(HostKey)]);
        }

        if (MaxAnswerTokens >= ContextTokens)
        {
            yield return new ValidationResult(
                "Telegram:MaxAnswerTokens must be smaller than Telegram:ContextTokens (the answer comes out of the model's context).",
                [nameof(MaxAnswerTokens)]);
        }
    }

    /// <summary>The numeric bot id before the ':' of the token: safe to use in key names and logs.</summary>
    public string BotId => BotToken is { } t && t.IndexOf(':', StringComparison.Ordinal) is > 0 and var i ? t[..i] : "0";
}
