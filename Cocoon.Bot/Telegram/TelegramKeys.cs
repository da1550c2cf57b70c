namespace Cocoon.Bot.Telegram;

/// <summary>Every Redis key the bot uses, in one place, under one prefix per bot.</summary>
public sealed class TelegramKeys(string prefix, string botId)
{
    // The bot id in braces is a Redis Cluster hash tag: all of one bot's keys live in one slot, so scripts may touch several.
    private readonly string _p = $"{prefix}:{{{botId}}}";

    public string Offset => $"{_p}:offset";
    public string Inbox => $"{_p}:inbox";
    public string Done(long updateId) => $"{_p}:done:{updateId}";

    /// <summary>Which gateway replica is handling an inbox update (expires unless that replica renews it).</summary>
    public string Lease(long updateId) => $"{_p}:lease:{updateId}";
    /// <summary>How far the answer to one update got: settled or sent, with its text sealed (see AnswerRecords).</summary>
    public string Answer(string updateId) => $"{_p}:answer:{updateId}";
    public string Blocked => $"{_p}:blocked";
    public string Conversation(long chatId) => $"{_p}:conv:{chatId}";

    /// <summary>The conversation's generation, bumped by /new and /forget; no expiry (see ConversationStore).</summary>
    public string ConversationGeneration(long chatId) => $"{_p}:conv-gen:{chatId}";
    public string User(long userId) => $"{_p}:user:{userId}";

    /// <summary>One user's guest conversation in one chat (kept only when they opted in: /guestmemory on).</summary>
    public string GuestConversation(long userId, long chatId) => $"{_p}:guest-conv:{userId}:{chatId}";

    /// <summary>The generation of all of one user's guest conversations: bumping it makes every one of them unreadable.</summary>
    public string GuestConversationGeneration(long userId) => $"{_p}:guest-conv-gen:{userId}";
    public string Usage(long userId) => $"{_p}:usage:{userId}";
    public string Group(long chatId) => $"{_p}:group:{chatId}";
    public string GroupTokens(long chatId, long userId, string day) => $"{_p}:group:{chatId}:tokens:{userId}:{day}";
    public string GroupTokensPattern(long chatId) => $"{_p}:group:{chatId}:tokens:*";
    public string Payment(string chargeId) => $"{_p}:stars:{chargeId}";
    public string Payments => $"{_p}:stars-log";
    public string ProviderDraft(long userId) => $"{_p}:provider-draft:{userId}";
    public string PayoutRequests => $"{_p}:payout-requests";
}
