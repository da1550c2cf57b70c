using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// One canary in the bank: a prompt whose answer at temperature 0 the network computed on its own hardware, kept as
/// the SHA-256 of the answer's UTF-8 text so that not even the configuration holds the answer in plaintext.
/// </summary>
public sealed class CanaryEntry
{
    [RegularExpression("^[0-9a-fA-F]{64}$", ErrorMessage = "Gateway:Canaries:Bank:N:ModelSha256 must be the 64-digit hex SHA-256 of the model the answer was computed with.")]
    public string ModelSha256 { get; set; } = string.Empty;

    [Required(ErrorMessage = "Gateway:Canaries:Bank:N:Prompt is empty.")]
    public string Prompt { get; set; } = string.Empty;

    [Range(1, 4096, ErrorMessage = "Gateway:Canaries:Bank:N:MaxTokens must be between 1 and 4096 (the known answer's max_tokens).")]
    public int MaxTokens { get; set; } = 32;

    [RegularExpression("^[0-9a-fA-F]{64}$", ErrorMessage = "Gateway:Canaries:Bank:N:AnswerSha256 must be the 64-digit hex SHA-256 of the known answer's UTF-8 text.")]
    public string AnswerSha256 { get; set; } = string.Empty;
}

/// <summary>Configuration section "Gateway:Canaries": the bank and how often each worker gets one.</summary>
public sealed class CanaryOptions
{
    /// <summary>How often each eligible worker with a bank entry for its model is sent a canary (at a random moment within the period); zero: never.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00", ErrorMessage = "Gateway:Canaries:Interval must be between 0 (off) and 30 days.")]
    public TimeSpan Interval { get; set; } = TimeSpan.Zero;

    public List<CanaryEntry> Bank { get; set; } = [];
}
