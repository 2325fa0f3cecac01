return {
    main = function()
        return { bump = mathlib.bump(), loads = mathlib.loads(), square = mathlib.square(7) }
    end,
}
