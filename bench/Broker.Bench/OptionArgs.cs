namespace Broker.Bench;

/// <summary>The command line's shape shared by the bench's modes: <c>--name value</c> or <c>--name=value</c>.</summary>
internal static class OptionArgs
{
    /// <summary>Splits <c>--name[=value]</c>; null with <paramref name="error"/> for an argument that is not an option.</summary>
    public static string? Name(string arg, out string? inline, out string? error)
    {
        inline = null;
        error = null;
        if (!arg.StartsWith("--", StringComparison.Ordinal))
        {
            error = $"unexpected argument '{arg}'";
            return null;
        }

        string name = arg[2..];
        int eq = name.IndexOf('=');
        if (eq >= 0)
        {
            inline = name[(eq + 1)..];
            name = name[..eq];
        }

        return name;
    }

    /// <summary>The option's value: the inline one, else the next argument (taken); null with <paramref name="error"/> when there is none.</summary>
    public static string? Value(string name, string? inline, string[] args, ref int i, out string? error)
    {
        error = null;
        if (inline is not null)
        {
            return inline;
        }

        if (i + 1 >= args.Length)
        {
            error = $"option --{name} needs a value";
            return null;
        }

        return args[++i];
    }
}
