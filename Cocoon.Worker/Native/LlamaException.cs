namespace Cocoon.Worker.Native;

/// <summary>llama.cpp refused or failed an operation; the message says what and how to fix it.</summary>
public sealed class LlamaException : Exception
{
    public LlamaException()
    {
    }

    public LlamaException(string message)
        : base(message)
    {
    }

    public LlamaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
